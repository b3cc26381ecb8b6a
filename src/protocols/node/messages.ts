/**
 * Wire messages of the node runtime (channel `node`). Two kinds, in a small fixed binary envelope:
 *
 *   call:  u8 1 | u32 epoch | u32 seq | u8 n gid[n] | u8 n service[n] | u8 n method[n] | argsBytes
 *   reply: u8 2 | u32 epoch | u32 seq | resultBytes                   (resultBytes = encode([err, value]))
 *
 * The envelope is read without the serializer, so a peer cannot make us compile code just to learn
 * where a message goes, and the inner document (decoded with functions allowed: map/reduce code, RPC
 * stubs) is a view into the frame, not a copy. An inner document that fails to decode still leaves us
 * the call id, so the caller gets a coded error instead of a timeout. (Hand-rolled because a serializer
 * pass over the envelope, plus copying the nested bytes out of it, was a third of a call's CPU; the names
 * section is cached by value on the way out and by bytes on the way in, so a steady stream of calls
 * costs no UTF-8 work.)
 *
 * `epoch` is drawn at random when a node boots, `seq` counts its calls: together they name a call
 * uniquely across the caller's restarts, so neither side confuses an old call with a new one.
 */
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';

export const nodeChannel = 'node';

const callTag = 1;
const replyTag = 2;
/** Bytes of a group, service or method name (UTF-8); longer ones cannot be sent. */
export const nameBytesMax = 255;
/** epoch and seq are u32 on the wire. */
export const idMax = 0xffff_ffff;
const idBytes = 9;

export interface CallMessage {
  readonly type: 'call';
  readonly epoch: number;
  readonly seq: number;
  readonly gid: string;
  readonly service: string;
  readonly method: string;
  readonly argsBytes: Uint8Array;
}

export interface ReplyMessage {
  readonly type: 'reply';
  readonly epoch: number;
  readonly seq: number;
  readonly resultBytes: Uint8Array;
}

export type NodeMessage = CallMessage | ReplyMessage;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function writeIds(bytes: Uint8Array, tag: number, epoch: number, seq: number): void {
  bytes[0] = tag;
  bytes[1] = epoch >>> 24;
  bytes[2] = (epoch >>> 16) & 0xff;
  bytes[3] = (epoch >>> 8) & 0xff;
  bytes[4] = epoch & 0xff;
  bytes[5] = seq >>> 24;
  bytes[6] = (seq >>> 16) & 0xff;
  bytes[7] = (seq >>> 8) & 0xff;
  bytes[8] = seq & 0xff;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) * 0x100_0000 + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number));
}

/** Names sections (`u8 n gid | u8 n service | u8 n method`) remembered per encoder / decoder; a node
 * calls few distinct (gid, service, method) triples, so the steady state encodes and decodes no UTF-8. */
const namesCacheEntriesMax = 32;

interface Names {
  readonly gid: string;
  readonly service: string;
  readonly method: string;
  /** The encoded names section; undefined when a name is empty or too long. */
  readonly bytes: Uint8Array | undefined;
}

const encodedNames: Names[] = [];
let encodedNamesNext = 0;

function encodeNames(gid: string, service: string, method: string): Names {
  for (let i = 0; i < encodedNames.length; i++) {
    const names = encodedNames[i] as Names;
    if (names.gid === gid && names.service === service && names.method === method) return names;
  }
  const parts = [utf8Encoder.encode(gid), utf8Encoder.encode(service), utf8Encoder.encode(method)];
  let bytes: Uint8Array | undefined;
  if (parts.every((n) => n.length > 0 && n.length <= nameBytesMax)) {
    bytes = new Uint8Array(3 + parts[0]!.length + parts[1]!.length + parts[2]!.length);
    let at = 0;
    for (const part of parts) {
      bytes[at] = part.length;
      bytes.set(part, at + 1);
      at += 1 + part.length;
    }
  }
  const names: Names = { gid, service, method, bytes };
  encodedNames[encodedNamesNext] = names;
  encodedNamesNext = (encodedNamesNext + 1) % namesCacheEntriesMax;
  return names;
}

/**
 * Envelopes are carved out of shared chunks, like the serializer's documents: a fresh Uint8Array over 64
 * bytes is an off-heap allocation V8 makes slowly and collects late. A chunk is never written again
 * once a view into it is out. What retains envelopes (calls in flight, the callee's recent replies) pins
 * at most its chunks: 4,096 remembered replies of up to `carvedBytesMax` pin at most 4 MiB.
 */
const chunkBytes = 16_384;
const carvedBytesMax = 1_024;
let chunk = new Uint8Array(chunkBytes);
let chunkUsed = 0;

function allocate(length: number): Uint8Array {
  if (length > carvedBytesMax) return new Uint8Array(length);
  if (chunkUsed + length > chunkBytes) {
    chunk = new Uint8Array(chunkBytes);
    chunkUsed = 0;
  }
  const bytes = chunk.subarray(chunkUsed, chunkUsed + length);
  chunkUsed += length;
  return bytes;
}

/** Encodes a call; a name longer than `nameBytesMax` is a coded error. */
export function encodeCall(epoch: number, seq: number, gid: string, service: string, method: string, argsBytes: Uint8Array): Uint8Array | DistError {
  const names = encodeNames(gid, service, method).bytes;
  if (names === undefined) {
    return new DistError('E_NODE_BAD_NAME', `gid, service and method must be 1 to ${nameBytesMax} bytes`, { gid, service, method });
  }
  const bytes = allocate(idBytes + names.length + argsBytes.length);
  writeIds(bytes, callTag, epoch, seq);
  bytes.set(names, idBytes);
  bytes.set(argsBytes, idBytes + names.length);
  return bytes;
}

export function encodeReply(epoch: number, seq: number, resultBytes: Uint8Array): Uint8Array {
  const bytes = allocate(idBytes + resultBytes.length);
  writeIds(bytes, replyTag, epoch, seq);
  bytes.set(resultBytes, idBytes);
  return bytes;
}

const badMessage = (): DistError => new DistError('E_NODE_BAD_MESSAGE', 'node message has a bad shape');

/** Decoded names sections by their bytes (valid ones only). */
const decodedNames: { bytes: Uint8Array; names: Names }[] = [];
let decodedNamesNext = 0;

function sameBytes(cached: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < cached.length; i++) if (cached[i] !== bytes[start + i]) return false;
  return true;
}

/** The names in `bytes[start, end)`, already checked to be three length-prefixed non-empty runs. */
function decodeNames(bytes: Uint8Array, start: number, end: number): Names | undefined {
  const length = end - start;
  for (let i = 0; i < decodedNames.length; i++) {
    const entry = decodedNames[i] as { bytes: Uint8Array; names: Names };
    if (entry.bytes.length === length && sameBytes(entry.bytes, bytes, start)) return entry.names;
  }
  const strings: string[] = [];
  let at = start;
  for (let i = 0; i < 3; i++) {
    const n = bytes[at] as number;
    try {
      strings.push(utf8Decoder.decode(bytes.subarray(at + 1, at + 1 + n)));
    } catch {
      return undefined;
    }
    at += 1 + n;
  }
  const [gid, service, method] = strings as [string, string, string];
  const names: Names = { gid, service, method, bytes: undefined };
  decodedNames[decodedNamesNext] = { bytes: bytes.slice(start, end), names };
  decodedNamesNext = (decodedNamesNext + 1) % namesCacheEntriesMax;
  return names;
}

/** Whether `bytes` claims to be a call (its tag alone: routing, not validation). */
export function isCallMessage(bytes: Uint8Array): boolean {
  return bytes.length >= idBytes && bytes[0] === callTag;
}

export function decodeMessage(bytes: Uint8Array): NodeMessage | DistError {
  if (bytes.length < idBytes) return badMessage();
  const tag = bytes[0];
  const epoch = readU32(bytes, 1);
  const seq = readU32(bytes, 5);
  if (tag === replyTag) return { type: 'reply', epoch, seq, resultBytes: bytes.subarray(idBytes) };
  if (tag !== callTag) return badMessage();
  let at = idBytes;
  for (let i = 0; i < 3; i++) {
    const length = at < bytes.length ? (bytes[at] as number) : 0;
    if (length === 0 || at + 1 + length > bytes.length) return badMessage();
    at += 1 + length;
  }
  const names = decodeNames(bytes, idBytes, at);
  if (names === undefined) return badMessage();
  return { type: 'call', epoch, seq, gid: names.gid, service: names.service, method: names.method, argsBytes: bytes.subarray(at) };
}

/** Encodes a call's arguments; an argument that cannot travel is a coded error, not a throw. */
export function encodeArgs(args: readonly unknown[]): Uint8Array | DistError {
  try {
    return encode(args);
  } catch (err) {
    return new DistError('E_NODE_ARGS_UNENCODABLE', 'call arguments cannot be serialized', { cause: codeOf(err) });
  }
}

export function decodeArgs(bytes: Uint8Array): unknown[] | DistError {
  let args: unknown;
  try {
    args = decode(bytes);
  } catch (err) {
    return new DistError('E_NODE_BAD_ARGS', 'call arguments do not decode', { cause: codeOf(err) });
  }
  return Array.isArray(args) ? args : new DistError('E_NODE_BAD_ARGS', 'call arguments are not an array');
}

/** Encodes `[err, value]`; a value that cannot travel becomes a coded error in its place. */
export function encodeResult(err: unknown, value: unknown): Uint8Array {
  try {
    return encode([err ?? null, value]);
  } catch (cause) {
    return encode([new DistError('E_NODE_REPLY_UNENCODABLE', 'the reply cannot be serialized', { cause: codeOf(cause) }), undefined]);
  }
}

export function decodeResult(bytes: Uint8Array): [Error | null, unknown] {
  let result: unknown;
  try {
    result = decode(bytes);
  } catch (err) {
    return [new DistError('E_NODE_BAD_REPLY', 'reply does not decode', { cause: codeOf(err) }), undefined];
  }
  if (!Array.isArray(result) || result.length !== 2) return [new DistError('E_NODE_BAD_REPLY', 'reply has a bad shape'), undefined];
  // Not always an Error: a group service answers `(errors, values)` with a map of errors (`{}` if none).
  return [(result[0] ?? null) as Error | null, result[1]];
}

export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'E_THROWN';
}
