/**
 * A fast 64-bit rolling hash for traces: two independent 32-bit FNV-1a style lanes with different
 * multipliers and seeds, fed one UTF-16 code unit at a time. It is not cryptographic; it only has to
 * make "same trace" vs "different trace" unmistakable while costing a few nanoseconds per character,
 * so hashing never dominates the event loop.
 */

const laneAOffset = 0x811c9dc5;
const laneBOffset = 0x01234567;
const laneAPrime = 0x01000193; // the FNV-1a 32-bit prime
const laneBPrime = 0x5bd1e995; // MurmurHash2's multiplier: odd, well mixed, unrelated to lane A

export class RollingHash {
  private a = laneAOffset;
  private b = laneBOffset;

  /** Feeds a string followed by a newline (one trace line). */
  line(text: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, laneAPrime);
      b = Math.imul(b ^ c, laneBPrime);
      b ^= b >>> 15;
    }
    this.a = Math.imul(a ^ 10, laneAPrime);
    this.b = Math.imul(b ^ 10, laneBPrime);
  }

  /** Hex digest of everything fed so far; does not reset the state. */
  digest(): string {
    // Final avalanche so trailing inputs flip every output bit.
    let a = this.a ^ (this.b >>> 13);
    let b = this.b ^ (this.a >>> 11);
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    b = Math.imul(b ^ (b >>> 16), 0xc2b2ae35);
    a ^= a >>> 13;
    b ^= b >>> 16;
    return hex32(a) + hex32(b);
  }
}

function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/** 32-bit FNV-1a over bytes: a short fingerprint of a payload for trace lines. */
export function bytesHash32(bytes: Uint8Array): string {
  let h = laneAOffset;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), laneAPrime);
  return hex32(h);
}
