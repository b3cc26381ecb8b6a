/**
 * A fast 64-bit rolling hash for traces: two independent 32-bit FNV-1a style lanes with different
 * multipliers, fed two UTF-16 code units per step. It is not cryptographic; it only has to make "same
 * trace" vs "different trace" unmistakable while costing a few nanoseconds per line, so hashing never
 * dominates the event loop.
 *
 * The hash is a function of the text only: feeding a line in pieces (`text`, `int`, ...) gives the same
 * state as feeding it whole, so the simulator can hash a trace line without ever building it.
 */

const laneAOffset = 0x811c9dc5;
const laneBOffset = 0x01234567;
const laneAPrime = 0x01000193; // the FNV-1a 32-bit prime
const laneBPrime = 0x5bd1e995; // MurmurHash2's multiplier: odd, well mixed, unrelated to lane A
const newline = 10;
/** Marks "no code unit waiting to be paired". */
const none = -1;

export class RollingHash {
  private a = laneAOffset;
  private b = laneBOffset;
  /** A code unit waiting for its partner (two units make one 32-bit word). */
  private pending = none;

  /** Feeds a string. */
  text(text: string): void {
    const n = text.length;
    let i = 0;
    if (this.pending !== none && n > 0) {
      this.word(this.pending | (text.charCodeAt(0) << 16));
      this.pending = none;
      i = 1;
    }
    let a = this.a;
    let b = this.b;
    for (; i + 1 < n; i += 2) {
      const c = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
      a = Math.imul(a ^ c, laneAPrime);
      b = Math.imul(b ^ c, laneBPrime);
      b ^= b >>> 15;
    }
    this.a = a;
    this.b = b;
    if (i < n) this.pending = text.charCodeAt(i);
  }

  /** Feeds one code unit. */
  unit(c: number): void {
    if (this.pending === none) {
      this.pending = c;
    } else {
      this.word(this.pending | (c << 16));
      this.pending = none;
    }
  }

  /** Feeds the decimal text of a number (as `String(value)` prints it). */
  int(value: number): void {
    // V8's number-to-string is faster than a digit loop here (it caches recent conversions).
    this.text('' + value);
  }

  /** Feeds a whole line and its newline. */
  line(text: string): void {
    this.text(text);
    this.unit(newline);
  }

  endLine(): void {
    this.unit(newline);
  }

  private word(c: number): void {
    this.a = Math.imul(this.a ^ c, laneAPrime);
    let b = Math.imul(this.b ^ c, laneBPrime);
    b ^= b >>> 15;
    this.b = b;
  }

  /** Hex digest of everything fed so far; does not change the state. */
  digest(): string {
    let a = this.a;
    let b = this.b;
    if (this.pending !== none) {
      a = Math.imul(a ^ this.pending, laneAPrime);
      b = Math.imul(b ^ this.pending, laneBPrime);
    }
    // Final avalanche so trailing inputs flip every output bit.
    const a2 = a ^ (b >>> 13);
    const b2 = b ^ (a >>> 11);
    let x = Math.imul(a2 ^ (a2 >>> 16), 0x85ebca6b);
    let y = Math.imul(b2 ^ (b2 >>> 16), 0xc2b2ae35);
    x ^= x >>> 13;
    y ^= y >>> 16;
    return hex32(x) + hex32(y);
  }
}

function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/** 32-bit FNV-1a over bytes, as an unsigned integer: a short fingerprint of a payload for trace
 * lines (a number, because formatting hex on every message showed up in profiles). */
export function bytesHash32(bytes: Uint8Array): number {
  let h = laneAOffset;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), laneAPrime);
  return h >>> 0;
}
