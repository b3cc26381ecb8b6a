/**
 * Seeded random streams for the simulator. One root seed; every subsystem and node forks its own
 * stream by label. A fork is seeded from the parent's *label path*, not from the parent's draws, so
 * adding a draw in one module never shifts another module's numbers (streams are independent).
 */
import seedrandom from 'seedrandom';
import type { Random } from '../env/index.js';
import { assert } from '../lib/assert.js';

/** Longest label path we accept; a path this deep means a fork loop, not a design. */
const labelPathCharsMax = 1024;

export class SimRandom implements Random {
  readonly path: string;
  private readonly next: () => number;

  constructor(path: string) {
    assert(path.length > 0 && path.length <= labelPathCharsMax, `random label path length out of range: ${path.length}`);
    this.path = path;
    // alea: fast, good statistical quality, fully determined by the seed string.
    this.next = seedrandom.alea(path);
  }

  /** The root stream of a run. */
  static root(seed: number): SimRandom {
    assert(Number.isSafeInteger(seed), `seed must be a safe integer: ${seed}`);
    return new SimRandom(`seed:${seed}`);
  }

  int(minInclusive: number, maxExclusive: number): number {
    assert(maxExclusive > minInclusive, `empty int range [${minInclusive}, ${maxExclusive})`);
    return minInclusive + Math.floor(this.next() * (maxExclusive - minInclusive));
  }

  float(): number {
    return this.next();
  }

  chance(numerator: number, denominator: number): boolean {
    assert(denominator > 0 && numerator >= 0, `bad chance ${numerator}/${denominator}`);
    return this.next() * denominator < numerator;
  }

  /** True with probability `p` in [0, 1]; the simulator's fault rates are plain probabilities. */
  bernoulli(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** Uniform float in [min, max). */
  range(min: number, max: number): number {
    assert(max >= min, `bad range [${min}, ${max})`);
    return min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  fork(label: string): SimRandom {
    assert(label.length > 0, 'fork label must not be empty');
    // Length-prefixed, so fork('a').fork('b') and fork('a/b') can never share a stream.
    return new SimRandom(`${this.path}/${label.length}:${label}`);
  }
}
