/**
 * The `kv` program: a node runtime (DistNode, for RPC), SWIM membership (failure detection) and group
 * storage for one gid, wired so that every change of this node's membership view starts a settle
 * round (automatic reconfiguration). Members of the gid = this node plus the members membership holds
 * alive or suspect; holders = every configured node. Args are validated once, up front.
 *
 * Clients call the `kv` service of any node (`kvClientService`, course-shaped): `put(value, key)`,
 * `get(key)`, `del(key)`, `append(value, key)` (a null key is `getID(value)`; `get(null)` lists every
 * key, or fails while some holder is out of this node's view), `owner(key)`, the node that owns the key
 * in this node's view, and `view()`, its members and placement (for `KvClient`, client.ts, which routes
 * by itself). Each call is routed to the key's owner by this node's view and retried while ownership is
 * settling; it answers the owner's answer or its coded error.
 * On a real cluster: `npm run cluster -- --program kv` (the cluster's node list comes as `peers`).
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { registerProgram } from '../../lib/programs.js';
import { createMembership, parseMembershipArgs, type Membership } from '../membership/index.js';
import { defineMethod, type Callback, type Service } from '../node/method.js';
import { DistNode } from '../node/node.js';
import { checkKey, MemEngine, StoreEngine } from './engine.js';
import { parsePlacement, type Placement } from './placement.js';
import { KvShards, kvShardService, type KvOpName, type KvShardsOptions, type KvTransport } from './shard.js';

export const kvProgramName = 'kv';
export const kvGidDefault = 'kv';
/** The service clients call on any node of a `kv` cluster. */
export const kvClientService = 'kv';

export interface KvProgramArgs {
  /** Every node that may hold data of the gid (the cluster), this one included. */
  readonly nodes?: readonly NodeId[];
  /** Taken for `nodes` when that is absent: the node list `npm run cluster` gives every program. */
  readonly peers?: readonly NodeId[];
  readonly gid?: string;
  readonly placement?: Placement;
  readonly engine?: 'mem' | 'store';
  readonly callTimeoutMs?: number;
  readonly shards?: Omit<KvShardsOptions, 'placement'>;
  /** Membership config on top of seeds (seeds default to the first three nodes). */
  readonly membership?: Record<string, unknown>;
}

/** What `inspect()` returns: the parts a checker or a test reads. */
export interface KvNodeHandle {
  readonly node: DistNode;
  readonly shards: KvShards;
  readonly membership: Membership;
  readonly gid: string;
}

function parseArgs(args: unknown, self: NodeId): Required<Pick<KvProgramArgs, 'nodes' | 'gid' | 'placement' | 'engine'>> & KvProgramArgs {
  const a = (typeof args === 'object' && args !== null ? args : {}) as KvProgramArgs;
  const nodes = a.nodes ?? a.peers;
  if (!Array.isArray(nodes) || !nodes.includes(self) || !nodes.every((id) => typeof id === 'string')) {
    throw new DistError('E_KV_CONFIG', 'args.nodes (or peers) must list every node, this one included', { field: 'nodes' });
  }
  const placement = parsePlacement(a.placement ?? { scheme: 'consistent', vnodes: 64 });
  if (placement instanceof DistError) throw placement;
  if (a.engine !== undefined && a.engine !== 'mem' && a.engine !== 'store') throw new DistError('E_KV_CONFIG', 'args.engine must be mem or store', { field: 'engine' });
  return { ...a, nodes, gid: a.gid ?? kvGidDefault, placement, engine: a.engine ?? 'store' };
}

/** The `kv` service: each call routed to its key's owner through `shards`; bad keys refused here. */
function kvClient(shards: KvShards, gid: string): Service {
  const route = (op: KvOpName, key: unknown, value: unknown, reply: Callback): void => {
    const nullAllowed = key === null && (op === 'put' || op === 'append');
    const bad = nullAllowed ? undefined : checkKey(key);
    if (bad !== undefined) return reply(bad);
    shards.request(gid, op, key as string | null, value, reply);
  };
  return {
    put: defineMethod(2, ([value, key], reply) => route('put', key ?? null, value, reply)),
    get: defineMethod(1, ([key], reply) => (key === null ? shards.listKeys(gid, reply) : route('get', key, undefined, reply)), { idempotent: true }),
    del: defineMethod(1, ([key], reply) => route('del', key, undefined, reply)),
    append: defineMethod(2, ([value, key], reply) => route('append', key ?? null, value, reply)),
    view: defineMethod(0, (_args, reply) => reply(null, shards.view(gid)), { idempotent: true }),
    owner: defineMethod(1, ([key], reply) => {
      const bad = checkKey(key);
      return bad === undefined ? reply(null, shards.ownerOf(gid, key as string)) : reply(bad);
    }, { idempotent: true }),
  };
}

export function createKvNode(env: Env, args: unknown): NodeProgram {
  const parsed = parseArgs(args, env.nodeId);
  const node = new DistNode(env, parsed.callTimeoutMs === undefined ? {} : { callTimeoutMs: parsed.callTimeoutMs });
  const membership = createMembership(env, parseMembershipArgs({ seeds: parsed.nodes.slice(0, 3), ...parsed.membership }));
  const transport: KvTransport = {
    call: (to, method, callArgs, callback) => (to === env.nodeId
      ? node.invokeLocal('local', kvShardService, method, callArgs, callback)
      : node.callRemote(to, kvShardService, method, callArgs, callback)),
  };
  const views = {
    members: () => [env.nodeId, ...membership.members().filter((id) => parsed.nodes.includes(id))].sort(),
    holders: () => parsed.nodes,
  };
  const engine = parsed.engine === 'mem' ? new MemEngine() : new StoreEngine(env.disk);
  const shards = new KvShards(env, engine, transport, views, { placement: parsed.placement, ...parsed.shards });
  node.services.set(kvShardService, shards.service());
  node.services.set(kvClientService, kvClient(shards, parsed.gid));
  membership.onChange(() => shards.viewChanged(parsed.gid));
  shards.manage(parsed.gid);
  const handle: KvNodeHandle = { node, shards, membership, gid: parsed.gid };
  return { stop: () => { membership.stop?.(); node.stop(); }, inspect: () => handle };
}

registerProgram(kvProgramName, createKvNode);
