/**
 * Broadcast (Maelstrom's broadcast workload): clients send `broadcast {value}` to any node; every value
 * any node durably holds reaches every node.
 *
 * Guarantees:
 * - Integrity: a node only ever holds values some client broadcast (it never invents values).
 * - Durability of acknowledgement: `broadcast_ok` is sent only once the value is on that node's disk,
 *   so an acknowledged value survives that node's crash.
 * - Convergence: once the network heals and every node is up, every value held by any node, and every
 *   acknowledged value, reaches every node within a few gossip intervals.
 *
 * Tolerates: message loss, duplication, reordering and delay; one-way and two-way partitions; clogged
 * links; crash and restart of any node, any number of times (memory lost, disk kept, unsynced writes
 * lost); slow and failing disk writes; clock skew (it reads no clock).
 *
 * How: each value is written to disk (`v/<value>`) and owed to every peer until that peer acknowledges
 * it with `gossip_ok`, which a peer sends only once the value is durable there. Owed values are re-sent
 * every `gossipIntervalMs` in batches; a restarted node reloads its values from disk and owes them all
 * again. A value a node held only in memory when it crashed may vanish, but only if no other node had
 * it and no client was acknowledged.
 *
 * Program name: `broadcast`, args `{ peers: NodeId[], gossipIntervalMs?, batchValuesMax? }`.
 * Channel: `broadcast`; messages in messages.ts.
 */
import { registerProgram } from '../../lib/programs.js';
import { createBroadcastNode } from './node.js';

export { BroadcastCore, type BroadcastView } from './core.js';
export { decodeMessage, encodeMessage, type BroadcastMessage } from './messages.js';
export { broadcastChannel, createBroadcastNode, parseBroadcastArgs, type BroadcastConfig } from './node.js';

export const broadcastProgramName = 'broadcast';
registerProgram(broadcastProgramName, createBroadcastNode);
