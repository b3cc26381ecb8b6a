/**
 * Wire framing, pure (no sockets). One ws message carries a batch of frames written in the same tick:
 *
 *   frame := u32be headerBytes | header | u32be payloadBytes | payload
 *   header := the project serializer's encoding of [from, channel]
 *
 * The header goes through the real serializer (decoded with functions off: network input never builds
 * code); the payload bytes are passed through untouched. Encoded headers are cached per channel on the
 * sending side and recognised by their bytes on the receiving side, so the steady state costs one memcpy
 * per frame and no serializer work.
 */
import { decode, encode } from '../serialize/index.js';
import { DistError } from '../lib/errors.js';
import { assert } from '../lib/assert.js';
import type { NodeId } from '../env/index.js';

const lengthBytes = 4;
/** Distinct channels remembered per encoder / decoder before the cache is reset. */
const headerCacheEntriesMax = 64;

export class FrameEncoder {
  private readonly headers = new Map<string, Buffer>();

  constructor(
    private readonly from: NodeId,
    private readonly headerBytesMax: number,
  ) {}

  /** The `u32 length | header` prefix for a channel. Throws E_NET_BAD_CHANNEL if the header is too big. */
  private headerFor(channel: string): Buffer {
    const cached = this.headers.get(channel);
    if (cached !== undefined) return cached;
    const header = encode([this.from, channel]);
    if (header.length > this.headerBytesMax) {
      throw new DistError('E_NET_BAD_CHANNEL', `channel name too long (${header.length} header bytes > ${this.headerBytesMax})`);
    }
    const prefixed = Buffer.allocUnsafeSlow(lengthBytes + header.length);
    prefixed.writeUInt32BE(header.length, 0);
    prefixed.set(header, lengthBytes);
    if (this.headers.size >= headerCacheEntriesMax) this.headers.clear();
    this.headers.set(channel, prefixed);
    return prefixed;
  }

  /** One frame in a fresh buffer: the caller may reuse `payload` as soon as this returns. */
  encode(channel: string, payload: Uint8Array): Buffer {
    const header = this.headerFor(channel);
    const frame = Buffer.allocUnsafe(header.length + lengthBytes + payload.length);
    header.copy(frame, 0);
    frame.writeUInt32BE(payload.length, header.length);
    frame.set(payload, header.length + lengthBytes);
    return frame;
  }
}

export interface DecodedHeader {
  readonly from: NodeId;
  readonly channel: string;
}

/** Receives each frame; returning an error stops decoding and fails the batch. */
export type FrameSink = (header: DecodedHeader, payload: Uint8Array) => DistError | undefined;

export interface FrameLimits {
  readonly headerBytesMax: number;
  readonly payloadBytesMax: number;
}

/** Remembers the last few header byte strings seen on one connection and what they decoded to. */
export class HeaderCache {
  private readonly entries: { bytes: Buffer; header: DecodedHeader }[] = [];

  lookup(data: Buffer, start: number, end: number): DecodedHeader | undefined {
    const length = end - start;
    // A byte loop: headers are a few dozen bytes, less than the cost of a call into Buffer#compare.
    for (let e = 0; e < this.entries.length; e++) {
      const entry = this.entries[e]!;
      const bytes = entry.bytes;
      if (bytes.length !== length) continue;
      let i = 0;
      while (i < length && bytes[i] === data[start + i]) i++;
      if (i === length) return entry.header;
    }
    return undefined;
  }

  remember(data: Buffer, start: number, end: number, header: DecodedHeader): void {
    if (this.entries.length >= headerCacheEntriesMax) this.entries.length = 0;
    this.entries.push({ bytes: Buffer.from(data.subarray(start, end)), header });
  }
}

/**
 * Splits a batch into frames and hands each to `sink`. Returns a coded error (and stops) on the first
 * malformed frame: the caller closes the connection. Frames before the bad one have been delivered.
 * Payloads are views into `data` (no copy).
 */
export function decodeBatch(data: Buffer, limits: FrameLimits, cache: HeaderCache, sink: FrameSink): DistError | undefined {
  let offset = 0;
  let frames = 0;
  const framesMax = data.length; // every frame takes at least 8 bytes, so this bound is never reached by valid input
  while (offset < data.length) {
    assert(frames++ < framesMax, 'decodeBatch: frame loop bound');
    if (data.length - offset < lengthBytes) return badFrame('truncated header length', offset);
    const headerLength = data.readUInt32BE(offset);
    offset += lengthBytes;
    if (headerLength === 0 || headerLength > limits.headerBytesMax) return badFrame(`header length ${headerLength} out of range`, offset);
    if (data.length - offset < headerLength + lengthBytes) return badFrame('truncated header', offset);
    const header = cache.lookup(data, offset, offset + headerLength) ?? decodeHeader(data, offset, headerLength, cache);
    if (header instanceof DistError) return header;
    offset += headerLength;
    const payloadLength = data.readUInt32BE(offset);
    offset += lengthBytes;
    if (payloadLength > limits.payloadBytesMax) return badFrame(`payload ${payloadLength} bytes > ${limits.payloadBytesMax}`, offset);
    if (data.length - offset < payloadLength) return badFrame('truncated payload', offset);
    const refused = sink(header, new Uint8Array(data.buffer, data.byteOffset + offset, payloadLength));
    if (refused !== undefined) return refused;
    offset += payloadLength;
  }
  return undefined;
}

function decodeHeader(data: Buffer, offset: number, length: number, cache: HeaderCache): DecodedHeader | DistError {
  let value: unknown;
  try {
    value = decode(new Uint8Array(data.buffer, data.byteOffset + offset, length), { functions: false });
  } catch (error) {
    return badFrame(`undecodable header (${(error as { code?: string }).code ?? (error as Error).name})`, offset);
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    return badFrame('header is not [from, channel]', offset);
  }
  const header: DecodedHeader = { from: value[0], channel: value[1] };
  cache.remember(data, offset, offset + length, header);
  return header;
}

function badFrame(reason: string, offset: number): DistError {
  return new DistError('E_NET_BAD_FRAME', `bad frame: ${reason}`, { offset });
}
