/**
 * The two small interfaces the MapReduce worker and coordinator are written against, so they do not
 * depend on how storage and RPC are wired on a node:
 * - `KvAccess`: this node's local data (the group's `store` for a job's input; `mem` or `store` for
 *   intermediates) and the write of final outputs into a named group's store;
 * - `Rpc`: a call to the `mr` service of a node.
 * `engineAccess` builds a KvAccess over the kv layer's local engines (src/protocols/kv/engine.ts).
 */
import type { Millis, NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import type { DistError } from '../../lib/errors.js';
import { writeOpsMax, type Found, type KvEngine, type KvOp } from '../kv/engine.js';
import type { Callback } from '../node/index.js';
import type { Pair } from './user.js';

export type EngineName = 'mem' | 'store';
export type DoneCallback = (err: DistError | null) => void;

export interface KvAccess {
  keys(engine: EngineName, gid: string): string[];
  get(engine: EngineName, gid: string, key: string): Found;
  /** Puts (value defined) and deletes (value undefined) of this node; `onDone` once durable. */
  write(engine: EngineName, gid: string, entries: readonly (readonly [string, unknown])[], onDone: DoneCallback): void;
  /** Writes final outputs into group `gid`'s store, each key at its owner in that group. */
  putOut(gid: string, pairs: readonly Pair[], onDone: DoneCallback): void;
}

export interface Rpc {
  /** Calls `mr.<method>(...args)` on `node` (this node included); answers once. */
  call(node: NodeId, method: string, args: readonly unknown[], timeoutMs: Millis, callback: Callback): void;
  /** A failure detector says `node` is down: calls waiting on it fail now. */
  peerDown(node: NodeId): void;
}

/** A KvAccess over local engines; writes go in chunks of at most writeOpsMax ops, one after another. */
export function engineAccess(engines: Readonly<Record<EngineName, KvEngine>>, putOut: KvAccess['putOut']): KvAccess {
  const write = (engine: EngineName, gid: string, entries: readonly (readonly [string, unknown])[], onDone: DoneCallback): void => {
    const ops: KvOp[] = entries.map(([key, value]) => (value === undefined ? { gid, key, put: false } : { gid, key, put: true, value }));
    writeChunks(engines[engine], ops, 0, onDone);
  };
  return {
    keys: (engine, gid) => engines[engine].keys(gid),
    get: (engine, gid, key) => engines[engine].get(gid, key),
    write,
    putOut,
  };
}

function writeChunks(engine: KvEngine, ops: readonly KvOp[], from: number, onDone: DoneCallback): void {
  assert(from >= 0 && from <= ops.length, 'chunk start within the ops');
  if (from === ops.length) return onDone(null);
  engine.write(ops.slice(from, from + writeOpsMax), (err) => (err !== null ? onDone(err) : writeChunks(engine, ops, Math.min(ops.length, from + writeOpsMax), onDone)));
}
