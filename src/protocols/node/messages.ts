/**
 * Wire messages of the node runtime (channel `node`). Two kinds:
 *
 *   call:  [1, epoch, seq, gid, service, method, argsBytes]
 *   reply: [2, epoch, seq, resultBytes]            resultBytes = encode([err, value])
 *
 * The envelope is decoded with `{ functions: false }`, so a peer cannot make us compile code just to
 * learn where a message goes; the arguments and results are a second, inner document decoded with
 * functions allowed (map/reduce code, RPC stubs). Keeping them apart means an inner document that fails
 * to decode still leaves us the call id, so the caller gets a coded error instead of a timeout.
 *
 * `epoch` is drawn at random when a node boots, `seq` counts its calls: together they name a call
 * uniquely across the caller's restarts, so neither side confuses an old call with a new one.
 */
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';

export const nodeChannel = 'node';

const callTag = 1;
const replyTag = 2;
/** Names of groups, services and methods; longer ones are refused as malformed. */
export const nameCharsMax = 256;

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

export function encodeCall(epoch: number, seq: number, gid: string, service: string, method: string, argsBytes: Uint8Array): Uint8Array {
  return encode([callTag, epoch, seq, gid, service, method, argsBytes]);
}

export function encodeReply(epoch: number, seq: number, resultBytes: Uint8Array): Uint8Array {
  return encode([replyTag, epoch, seq, resultBytes]);
}

export function decodeMessage(bytes: Uint8Array): NodeMessage | DistError {
  let value: unknown;
  try {
    value = decode(bytes, { functions: false });
  } catch (err) {
    return new DistError('E_NODE_BAD_BYTES', 'node message does not decode', { cause: codeOf(err) });
  }
  return toMessage(value) ?? new DistError('E_NODE_BAD_MESSAGE', 'node message has a bad shape');
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= nameCharsMax;
}

function toMessage(v: unknown): NodeMessage | undefined {
  if (!Array.isArray(v) || !isCount(v[1]) || !isCount(v[2])) return undefined;
  if (v[0] === callTag && v.length === 7 && isName(v[3]) && isName(v[4]) && isName(v[5]) && v[6] instanceof Uint8Array) {
    return { type: 'call', epoch: v[1], seq: v[2], gid: v[3], service: v[4], method: v[5], argsBytes: v[6] };
  }
  if (v[0] === replyTag && v.length === 4 && v[3] instanceof Uint8Array) {
    return { type: 'reply', epoch: v[1], seq: v[2], resultBytes: v[3] };
  }
  return undefined;
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
