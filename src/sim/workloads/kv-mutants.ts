/**
 * Deliberately broken kv variants: each must make the kv checker fail (proves it can).
 * - kv-ack-early: the disk reports writes durable the moment they are issued, so owners acknowledge
 *   before onDurable; a crash then loses an acknowledged put (kv.no-stale-read).
 * - kv-move-before-copy: a holder deletes the records it hands to a puller as it answers the pull,
 *   before the puller made them durable; a lost reply or a crashed puller loses them (kv.no-stale-read).
 */
import type { NodeFactory } from '../../env/index.js';
import type { Callback, Service } from '../../protocols/node/method.js';
import type { KvRecord } from '../../protocols/kv/core.js';
import { createKvNode, type KvNodeHandle } from '../../protocols/kv/program.js';
import { kvShardService } from '../../protocols/kv/shard.js';
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

export const kvAckEarly = kvWorkload('kv-ack-early', ackEarly, 'MUTANT: kv owners acknowledge before the write is durable (must fail safety)', true);
export const kvMoveBeforeCopy = kvWorkload('kv-move-before-copy', moveBeforeCopy, 'MUTANT: kv holders delete handed-off records before the puller has them (must fail safety)', true);
registerWorkload(kvAckEarly);
registerWorkload(kvMoveBeforeCopy);
