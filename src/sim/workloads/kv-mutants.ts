/**
 * Deliberately broken kv variants: each must make the kv checker fail (proves it can).
 * - kv-ack-early: the disk reports writes durable the moment they are issued, so owners acknowledge
 *   before onDurable; a crash then loses an acknowledged put (kv.no-stale-read).
 * - kv-move-before-copy: a holder deletes the records it hands to a puller as it answers the pull,
 *   before the puller made them durable; a lost reply or a crashed puller loses them (kv.no-stale-read).
 * - kv-list-unsettled: a listing is the plain union of what each member of the view serves, without
 *   checking that every holder is in the view and every member settled on it; keys on their way to a
 *   new owner are then missing from a listing that reports success (kv.listing-complete).
 */
import type { NodeFactory } from '../../env/index.js';
import type { Callback, Service } from '../../protocols/node/method.js';
import type { KvRecord } from '../../protocols/kv/core.js';
import { createKvNode, kvClientService, type KvNodeHandle } from '../../protocols/kv/program.js';
import { kvShardService, type ServedKeys } from '../../protocols/kv/shard.js';
import { registerWorkload } from '../workload.js';
import { kvWorkload } from './kv.js';
import { lyingDisk } from './mutants.js';

const ackEarly: NodeFactory = (env, args) => createKvNode(lyingDisk(env), args);

const moveBeforeCopy: NodeFactory = (env, args) => {
  const program = createKvNode(env, args);
  const handle = program.inspect?.() as KvNodeHandle;
  const service = handle.node.services.get(kvShardService) as Service;
  const pull = service.pull as (...args: unknown[]) => void;
  service.pull = (gid: unknown, round: unknown, puller: unknown, members: unknown, reply: Callback): void => {
    pull(gid, round, puller, members, (err: Error | null, records?: unknown) => {
      const handed = (err === null ? (records as KvRecord[]) : []).map((r) => ({ gid: gid as string, key: r.key, put: false as const, meta: null }));
      if (handed.length > 0) handle.shards.engine.write(handed, () => undefined);
      reply(err, records);
    });
  };
  return program;
};

const listUnsettled: NodeFactory = (env, args) => {
  const program = createKvNode(env, args);
  const handle = program.inspect?.() as KvNodeHandle;
  const client = handle.node.services.get(kvClientService) as Service;
  const get = client.get as (...args: unknown[]) => void;
  client.get = (key: unknown, reply: Callback): void => {
    if (key !== null) return get(key, reply);
    const members = [env.nodeId, ...handle.membership.members()];
    const keys = new Set<string>();
    let waiting = members.length;
    for (const member of members) {
      handle.node.callRemote(member, kvShardService, 'keys', [handle.gid], (err, served) => {
        if (err === null) for (const k of (served as ServedKeys).keys) keys.add(k);
        if (--waiting === 0) reply(null, [...keys].sort());
      });
    }
  };
  return program;
};

export const kvAckEarly = kvWorkload('kv-ack-early', ackEarly, 'MUTANT: kv owners acknowledge before the write is durable (must fail safety)', true);
export const kvMoveBeforeCopy = kvWorkload('kv-move-before-copy', moveBeforeCopy, 'MUTANT: kv holders delete handed-off records before the puller has them (must fail safety)', true);
export const kvListUnsettled = kvWorkload('kv-list-unsettled', listUnsettled, 'MUTANT: kv listings union what members serve without checking they settled on one view (must fail safety)', true);
registerWorkload(kvAckEarly);
registerWorkload(kvListUnsettled);
registerWorkload(kvMoveBeforeCopy);
