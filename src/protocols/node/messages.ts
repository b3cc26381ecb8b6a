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
 * pass over the envelope, plus copying the nested bytes out of it, was a third of a call's CPU.)
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

function writeIds(bytes: Uint8Array, tag: number, epoch: number, seq: number): DataView {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint8(0, tag);
  view.setUint32(1, epoch);
  view.setUint32(5, seq);
  return view;
}

/** Encodes a call; a name longer than `nameBytesMax` is a coded error. */
export function encodeCall(epoch: number, seq: number, gid: string, service: string, method: string, argsBytes: Uint8Array): Uint8Array | DistError {
  const names = [gid, service, method].map((name) => utf8Encoder.encode(name));
  if (names.some((n) => n.length === 0 || n.length > nameBytesMax)) {
    return new DistError('E_NODE_BAD_NAME', `gid, service and method must be 1 to ${nameBytesMax} bytes`, { gid, service, method });
  }
  const length = idBytes + names.reduce((sum, n) => sum + 1 + n.length, 0) + argsBytes.length;
  const bytes = new Uint8Array(length);
  writeIds(bytes, callTag, epoch, seq);
  let at = idBytes;
  for (const name of names) {
    bytes[at] = name.length;
    bytes.set(name, at + 1);
    at += 1 + name.length;
  }
  bytes.set(argsBytes, at);
  return bytes;
}

export function encodeReply(epoch: number, seq: number, resultBytes: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(idBytes + resultBytes.length);
  writeIds(bytes, replyTag, epoch, seq);
  bytes.set(resultBytes, idBytes);
  return bytes;
}

const badMessage = (): DistError => new DistError('E_NODE_BAD_MESSAGE', 'node message has a bad shape');

export function decodeMessage(bytes: Uint8Array): NodeMessage | DistError {
  if (bytes.length < idBytes) return badMessage();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = view.getUint8(0);
  const epoch = view.getUint32(1);
  const seq = view.getUint32(5);
  if (tag === replyTag) return { type: 'reply', epoch, seq, resultBytes: bytes.subarray(idBytes) };
  if (tag !== callTag) return badMessage();
  const names: string[] = [];
  let at = idBytes;
  for (let i = 0; i < 3; i++) {
    const length = at < bytes.length ? (bytes[at] as number) : 0;
    if (length === 0 || at + 1 + length > bytes.length) return badMessage();
    try {
      names.push(utf8Decoder.decode(bytes.subarray(at + 1, at + 1 + length)));
    } catch {
      return badMessage();
    }
    at += 1 + length;
  }
  const [gid, service, method] = names as [string, string, string];
  return { type: 'call', epoch, seq, gid, service, method, argsBytes: bytes.subarray(at) };
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
