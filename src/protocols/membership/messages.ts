/**
 * Membership wire messages (SWIM §4, plus full-state sync as in memberlist's push-pull). Every message
 * carries piggybacked member records. Records travel as `[id, stateCode, incarnation]` triples to keep
 * packets small. `decodeMessage` returns a coded error value for bad bytes or a bad shape instead of
 * throwing, so a node drops garbage and keeps serving.
 */
import type { NodeId } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';
import { incarnationMax, memberStates, membersMax, type MemberRecord } from './core.js';

export type MembershipMessage =
  /** Direct probe (SWIM §3.1). `target` is who the sender means to probe, so a stale or misdirected
   * ping (the id now names another process) is not acked. */
  | { readonly type: 'ping'; readonly seq: number; readonly target: NodeId; readonly updates: readonly MemberRecord[] }
  /** Answer to a ping, or relayed by an intermediary for a ping-req with the requester's seq. */
  | { readonly type: 'ack'; readonly seq: number; readonly target: NodeId; readonly updates: readonly MemberRecord[] }
  /** Indirect probe request (SWIM §3.1): "ping `target` for me and relay its ack". */
  | { readonly type: 'ping-req'; readonly seq: number; readonly target: NodeId; readonly updates: readonly MemberRecord[] }
  /** Infection-style gossip of pending updates to a few random members (memberlist's gossip tick). */
  | { readonly type: 'gossip'; readonly updates: readonly MemberRecord[] }
  /** Full-state exchange: join, periodic anti-entropy, reconnect to members believed dead. `reply`
   * asks the receiver to answer with its own table. */
  | { readonly type: 'sync'; readonly reply: boolean; readonly updates: readonly MemberRecord[] };

/** `[id, state, incarnation]`, plus the accuser for a suspect record that names one. */
type WireRecord = [NodeId, number, number] | [NodeId, number, number, NodeId];

function toWire(r: MemberRecord): WireRecord {
  const triple: [NodeId, number, number] = [r.id, memberStates.indexOf(r.state), r.incarnation];
  return r.state === 'suspect' && r.accuser !== undefined ? [...triple, r.accuser] : triple;
}

export function encodeMessage(message: MembershipMessage): Uint8Array {
  const updates: WireRecord[] = message.updates.map(toWire);
  return encode({ ...message, updates });
}

export function decodeMessage(bytes: Uint8Array): MembershipMessage | DistError {
  let value: unknown;
  try {
    value = decode(bytes, { functions: false });
  } catch (err) {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'E_THROWN';
    return new DistError('E_MEMBERSHIP_BAD_BYTES', 'membership message does not decode', { cause: code });
  }
  const message = checkShape(value);
  return message ?? new DistError('E_MEMBERSHIP_BAD_MESSAGE', 'membership message has a bad shape');
}

const nodeIdCharsMax = 256;

function isNodeId(v: unknown): v is NodeId {
  return typeof v === 'string' && v.length > 0 && v.length <= nodeIdCharsMax;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function toRecord(v: unknown): MemberRecord | undefined {
  if (!Array.isArray(v) || (v.length !== 3 && v.length !== 4)) return undefined;
  const [id, code, incarnation, accuser] = v as unknown[];
  const state = typeof code === 'number' ? memberStates[code] : undefined;
  if (!isNodeId(id) || state === undefined || !isSeq(incarnation) || incarnation > incarnationMax) return undefined;
  if (v.length === 3) return { id, state, incarnation };
  return state === 'suspect' && isNodeId(accuser) ? { id, state, incarnation, accuser } : undefined;
}

function toRecords(v: unknown): MemberRecord[] | undefined {
  if (!Array.isArray(v) || v.length > membersMax) return undefined;
  const records: MemberRecord[] = [];
  for (const item of v) {
    const record = toRecord(item);
    if (record === undefined) return undefined;
    records.push(record);
  }
  return records;
}

function checkShape(v: unknown): MembershipMessage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  const updates = toRecords(m.updates);
  if (updates === undefined) return undefined;
  switch (m.type) {
    case 'ping':
    case 'ack':
    case 'ping-req':
      return isSeq(m.seq) && isNodeId(m.target) ? { type: m.type, seq: m.seq, target: m.target, updates } : undefined;
    case 'gossip':
      return { type: 'gossip', updates };
    case 'sync':
      return typeof m.reply === 'boolean' ? { type: 'sync', reply: m.reply, updates } : undefined;
    default:
      return undefined;
  }
}
