/**
 * The Env-bound broadcast node: turns client messages, peer gossip, timer ticks and disk callbacks into
 * calls on BroadcastCore, and the core's answers into sends and disk writes. Nothing here knows whether
 * it runs in the simulator or in a real process.
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { BroadcastCore, type BroadcastView } from './core.js';
import { decodeMessage, encodeMessage, type BroadcastMessage } from './messages.js';

export const broadcastChannel = 'broadcast';
/** Disk keys: one per value, `v/<value>`; the value bytes are empty (the key is the datum). */
const valueKeyPrefix = 'v/';
const emptyBytes = new Uint8Array(0);

export interface BroadcastConfig {
  /** Every node of the cluster (self included or not). */
  readonly peers: readonly NodeId[];
  /** How often unacknowledged values are re-sent and failed writes retried. */
  readonly gossipIntervalMs: number;
  /** Largest number of values in one gossip message or one disk batch. */
  readonly batchValuesMax: number;
}

export const gossipIntervalMsDefault = 100;
export const batchValuesMaxDefault = 256;
/** Client replies waiting on one value's write; more are dropped (the client may ask again). */
const waitersPerValueMax = 16;

/** Validates program args once, up front, naming the field and its allowed range. */
export function parseBroadcastArgs(args: unknown): BroadcastConfig {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const peers = a.peers;
  if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new DistError('E_BROADCAST_CONFIG', 'args.peers must be a list of node ids', { field: 'peers' });
  }
  const gossipIntervalMs = a.gossipIntervalMs ?? gossipIntervalMsDefault;
  if (typeof gossipIntervalMs !== 'number' || !(gossipIntervalMs >= 1 && gossipIntervalMs <= 60_000)) {
    throw new DistError('E_BROADCAST_CONFIG', 'args.gossipIntervalMs must be in [1, 60000]', { field: 'gossipIntervalMs' });
  }
  const batchValuesMax = a.batchValuesMax ?? batchValuesMaxDefault;
  if (typeof batchValuesMax !== 'number' || !Number.isInteger(batchValuesMax) || batchValuesMax < 1 || batchValuesMax > 10_000) {
    throw new DistError('E_BROADCAST_CONFIG', 'args.batchValuesMax must be an integer in [1, 10000]', { field: 'batchValuesMax' });
  }
  return { peers: peers as NodeId[], gossipIntervalMs, batchValuesMax };
}

export function createBroadcastNode(env: Env, args: unknown): NodeProgram {
  const config = parseBroadcastArgs(args);
  const peers = config.peers.filter((p) => p !== env.nodeId);
  const core = new BroadcastCore(peers);
  /** Client replies waiting for a value to become durable here. */
  const waiters = new Map<number, { client: NodeId; id: number }[]>();
  let tickTimer = -1;

  const send = (to: NodeId, message: BroadcastMessage): void => env.net.send(to, broadcastChannel, encodeMessage(message));

  /** Writes every value that needs it (in batches); then answers waiting clients and, if given, acks
   * `ackValues` to `ackTo` for those that are now durable. */
  const writePending = (ackTo?: NodeId, ackValues?: readonly number[]): void => {
    for (let batches = 0; core.unwrittenCount > 0 && batches < 64; batches++) {
      const values = core.takeUnwritten(config.batchValuesMax);
      env.disk.write(values.map((v) => ({ key: valueKeyPrefix + v, value: emptyBytes })), (result) => {
        core.written(values, result.ok);
        if (!result.ok) return; // retried on the next tick
        for (const v of values) replyWaiters(v);
        if (ackTo !== undefined && ackValues !== undefined) ackDurable(ackTo, ackValues);
      });
    }
  };

  const ackDurable = (peer: NodeId, values: readonly number[]): void => {
    const durable = core.durableOf(values);
    if (durable.length > 0) send(peer, { type: 'gossip_ok', values: durable });
  };

  const replyWaiters = (value: number): void => {
    const list = waiters.get(value);
    if (list === undefined) return;
    waiters.delete(value);
    for (const w of list) send(w.client, { type: 'broadcast_ok', id: w.id, value });
  };

  const handleBroadcast = (from: NodeId, id: number, value: number): void => {
    if (core.isDurable(value)) {
      send(from, { type: 'broadcast_ok', id, value });
      return;
    }
    const list = waiters.get(value) ?? [];
    if (list.length < waitersPerValueMax) list.push({ client: from, id });
    waiters.set(value, list);
    if (core.learn(value)) {
      for (const peer of peers) send(peer, { type: 'gossip', values: [value] });
      writePending();
    }
  };

  const handleGossip = (from: NodeId, values: readonly number[]): void => {
    // Relayed values are not forwarded at once: the next tick sends everything owed to each peer in
    // one batch, so relaying costs one message per peer per tick rather than one per value.
    const fresh = values.filter((v) => core.learn(v));
    ackDurable(from, values);
    if (fresh.length > 0) writePending(from, fresh);
  };

  const onMessage = (from: NodeId, payload: Uint8Array): void => {
    const message = decodeMessage(payload);
    if (message instanceof DistError) {
      env.trace.event('broadcast.bad-message', { from, code: message.code });
      return;
    }
    switch (message.type) {
      case 'broadcast':
        return handleBroadcast(from, message.id, message.value);
      case 'read':
        return send(from, { type: 'read_ok', id: message.id, values: core.sorted() });
      case 'gossip':
        return handleGossip(from, message.values);
      case 'gossip_ok':
        return core.acknowledged(from, message.values);
      case 'broadcast_ok':
      case 'read_ok':
        return; // replies meant for clients; a node ignores them
    }
  };

  const onTick = (): void => {
    writePending();
    for (const peer of peers) {
      const owed = core.owed(peer, config.batchValuesMax);
      if (owed.length > 0) send(peer, { type: 'gossip', values: owed });
    }
    tickTimer = env.timers.set(config.gossipIntervalMs, onTick);
  };

  restoreFromDisk(env, core);
  env.net.listen(broadcastChannel, onMessage);
  tickTimer = env.timers.set(config.gossipIntervalMs, onTick);

  return {
    stop: () => env.timers.cancel(tickTimer),
    inspect: (): BroadcastView => core,
  };
}

/** Reloads durable values after a (re)start. Keys that do not parse are skipped and traced. */
function restoreFromDisk(env: Env, core: BroadcastCore): void {
  // '0' is the code unit after '/', so [v/, v0) is exactly the keys with the prefix.
  for (const [key] of env.disk.scan({ start: valueKeyPrefix, end: 'v0' })) {
    const value = Number(key.slice(valueKeyPrefix.length));
    if (!Number.isSafeInteger(value)) {
      env.trace.event('broadcast.bad-key', { key });
      continue;
    }
    core.restore(value);
  }
  assert(core.unwrittenCount === 0, 'restored values are durable');
}
