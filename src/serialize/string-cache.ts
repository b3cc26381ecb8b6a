/**
 * A small direct-mapped cache from UTF-8 bytes to the string they decode to. Decoding the same short
 * strings again and again (object keys of records, the sources of functions shipped with every task)
 * costs more than comparing their bytes; a hit also returns a string V8 has already internalised.
 */
import { assert } from '../lib/assert.js';

export class StringCache {
  private readonly bytes: Array<Uint8Array | undefined>;
  private readonly texts: string[];
  private slot = 0;

  /** `slots` must be a power of two; strings longer than `bytesMax` bytes are never cached. */
  constructor(private readonly slots: number, readonly bytesMax: number) {
    assert(slots > 0 && (slots & (slots - 1)) === 0, 'StringCache slots must be a power of two');
    assert(bytesMax > 0, 'StringCache bytesMax must be positive');
    this.bytes = new Array(slots);
    this.texts = new Array(slots);
  }

  /** The cached string for `input[start, start + length)`, or undefined (then `remember` may follow). */
  lookup(input: Uint8Array, start: number, length: number): string | undefined {
    let hash = length;
    for (let i = start; i < start + length; i++) hash = (Math.imul(hash, 31) + (input[i] as number)) | 0;
    this.slot = hash & (this.slots - 1);
    const cached = this.bytes[this.slot];
    if (cached === undefined || cached.length !== length) return undefined;
    for (let i = 0; i < length; i++) if (cached[i] !== input[start + i]) return undefined;
    return this.texts[this.slot];
  }

  /** Stores `text` for the bytes of the last `lookup` (which missed). */
  remember(input: Uint8Array, start: number, length: number, text: string): void {
    this.bytes[this.slot] = input.slice(start, start + length);
    this.texts[this.slot] = text;
  }
}
