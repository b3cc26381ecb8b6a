import { randomBytes } from 'node:crypto';
import seedrandom from 'seedrandom';
import type { Random } from '../env/index.js';
import { assert } from '../lib/assert.js';

/**
 * A seeded stream (alea). `fork(label)` derives the child's seed from this stream's seed and the label, not
 * from its state, so draws in one stream never shift another and the same (seed, label) path always gives
 * the same stream.
 */
export class SeededRandom implements Random {
  private readonly prng: seedrandom.PRNG;

  constructor(readonly seed: string) {
    this.prng = seedrandom.alea(seed);
  }

  int(minInclusive: number, maxExclusive: number): number {
    assert(Number.isSafeInteger(minInclusive) && Number.isSafeInteger(maxExclusive), 'random.int: bounds must be safe integers');
    assert(minInclusive < maxExclusive, () => `random.int: empty range [${minInclusive}, ${maxExclusive})`);
    return minInclusive + Math.floor(this.prng.double() * (maxExclusive - minInclusive));
  }

  float(): number {
    return this.prng.double();
  }

  chance(numerator: number, denominator: number): boolean {
    assert(denominator > 0 && numerator >= 0, 'random.chance: need numerator >= 0 and denominator > 0');
    return this.prng.double() * denominator < numerator;
  }

  fork(label: string): Random {
    assert(typeof label === 'string', 'random.fork: label must be a string');
    return new SeededRandom(`${this.seed}/${label}`);
  }
}

/** A fresh unpredictable seed for production runs; tests and replays pass their own. */
export function cryptoSeed(): string {
  return randomBytes(16).toString('hex');
}
