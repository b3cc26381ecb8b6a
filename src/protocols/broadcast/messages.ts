/**
 * Broadcast wire messages (Maelstrom's broadcast workload, plus our own peer gossip). Every message is
 * encoded with the project serializer; `decodeMessage` returns a coded error value for bad bytes or a
 * bad shape instead of throwing, so a node can drop garbage and keep serving.
 */
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';

/** Values in one gossip, gossip_ok or read_ok; a bigger message is refused as malformed. */
export const valuesPerMessageMax = 100_000;

export type BroadcastMessage =
  /** client -> node: remember `value` and spread it. */
  | { readonly type: 'broadcast'; readonly id: number; readonly value: number }
  /** node -> client: `value` is durable on that node. */
  | { readonly type: 'broadcast_ok'; readonly id: number; readonly value: number }
  | { readonly type: 'read'; readonly id: number }
  | { readonly type: 'read_ok'; readonly id: number; readonly values: readonly number[] }
  /** peer -> peer: values the sender knows and the receiver has not acknowledged. */
  | { readonly type: 'gossip'; readonly values: readonly number[] }
  /** peer -> peer: these values are durable here; stop sending them. */
  | { readonly type: 'gossip_ok'; readonly values: readonly number[] };

export function encodeMessage(message: BroadcastMessage): Uint8Array {
  return encode(message);
}

export function decodeMessage(bytes: Uint8Array): BroadcastMessage | DistError {
  let value: unknown;
  try {
    value = decode(bytes, { functions: false });
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'E_THROWN';
    return new DistError('E_BROADCAST_BAD_BYTES', 'broadcast message does not decode', { cause: code });
  }
  return checkShape(value) ? value : new DistError('E_BROADCAST_BAD_MESSAGE', 'broadcast message has a bad shape');
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function isValues(v: unknown): v is number[] {
  return Array.isArray(v) && v.length <= valuesPerMessageMax && v.every(isId);
}

function checkShape(v: unknown): v is BroadcastMessage {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'broadcast':
    case 'broadcast_ok':
      return isId(m.id) && isId(m.value);
    case 'read':
      return isId(m.id);
    case 'read_ok':
      return isId(m.id) && isValues(m.values);
    case 'gossip':
    case 'gossip_ok':
      return isValues(m.values);
    default:
      return false;
  }
}
