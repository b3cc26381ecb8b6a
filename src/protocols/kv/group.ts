/**
 * COURSE-API's group `mem` / `store` (`distribution[gid].mem.put(value, cfg, cb)` …): plain course
 * semantics, routed directly by the group's hash. Each call goes to one member, the owner of
 * `hash(getID(key), memberNids)` (naive by default), as the local method with `{key, gid}`; the answer
 * is that member's `(err, value)`. `get(null)` asks every member for its keys of the gid and answers
 * `(errors by SID, all keys)`, errors `{}` when none failed. An explicit gid in `cfg` wins over the
 * group's for namespacing. `reconf(oldGroup)` moves exactly the keys whose owner changed
 * (`planReconf`): get from the old owner, put on the new one, then delete the old copy.
 *
 * What this layer does not promise (the `kv` program, shard.ts, does): calls racing a reconfiguration
 * may read a missing key or write to the old owner, and a member's view of the group is whatever its
 * groups table says. It has no state of its own; every call reads the members at call time.
 */
import type { NodeId } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { addressOf, getID, isNodeAddress, nidOf, nodeIdOf, type HashFn, type NodeAddress } from '../node/id.js';
import { defineMethod, type Callback, type Service } from '../node/method.js';
import { planReconf, type MemberPlacer, type Move } from './core.js';
import { parseTarget, type KvTarget } from './local.js';

/** Moves of one reconfiguration in flight at once (each is a get, a put and a delete). */
export const reconfMovesInFlightMax = 64;

/** What the group layer gives the storage services of one group. */
export interface GroupStorageHost {
  readonly gid: string;
  /** The group's members now, `[sid, address]`. */
  members(): readonly (readonly [string, NodeAddress])[];
  /** The group's hash (COURSE-API: naive unless the group config names another). */
  hash(): HashFn;
  /** Calls `service.method(...args)` on a member's local services. */
  call(to: NodeAddress, service: string, method: string, args: readonly unknown[], callback: Callback): void;
  /** Runs `fn` later (validation errors still answer asynchronously, as calls do). */
  later(fn: () => void): void;
}

/** A group hash as a placer over Env node ids: the hash picks among the members' NIDs. */
export function hashPlacer(hash: HashFn): MemberPlacer {
  return {
    forMembers(members: readonly NodeId[]): (key: string) => NodeId {
      const byNid = new Map(members.map((id) => [nidOf(id), id]));
      const nids = [...byNid.keys()];
      // A copy per key: course hash functions may sort or even push into the array they are given.
      return (key) => byNid.get(hash(getID(key), nids.slice())) ?? '';
    },
  };
}

/** `cfg` as COURSE-API reads it for a group call: the group's gid unless cfg names one. */
function groupTarget(cfg: unknown, gid: string): KvTarget | DistError {
  const target = parseTarget(cfg);
  if (target instanceof DistError) return target;
  const explicitGid = typeof cfg === 'object' && cfg !== null && (cfg as { gid?: unknown }).gid != null;
  return explicitGid ? target : { key: target.key, gid };
}

export function createGroupStorage(host: GroupStorageHost, service: 'mem' | 'store'): Service {
  const refuse = (reply: Callback, err: Error): void => host.later(() => reply(err));

  // The members' NIDs (a sha256 each) change only with the members or the hash: kept until either does.
  let placing: { hash: HashFn; membersKey: string; place: (key: string) => NodeId } | undefined;
  const placerOf = (hash: HashFn, ids: NodeId[]): ((key: string) => NodeId) => {
    const membersKey = ids.join('\n');
    if (placing?.hash !== hash || placing.membersKey !== membersKey) placing = { hash, membersKey, place: hashPlacer(hash).forMembers(ids) };
    return placing.place;
  };

  /** The owner of `key` among the members now, or the error a caller gets. */
  const ownerOf = (key: string): NodeAddress | DistError => {
    const members = host.members();
    if (members.length === 0) return new DistError('E_GROUP_EMPTY', `group ${host.gid} has no members`, { gid: host.gid });
    const owner = placerOf(host.hash(), members.map(([, address]) => nodeIdOf(address)))(key);
    if (owner === '') return new DistError('E_KV_BAD_HASH', `the hash of group ${host.gid} named no member`, { gid: host.gid });
    return addressOf(owner);
  };

  /** One call to the owner of the target's key (`keyOf` fills a null key, e.g. getID(value)). */
  const routed = (method: string, value: unknown[], cfg: unknown, reply: Callback, keyOf?: () => string): void => {
    const target = groupTarget(cfg, host.gid);
    if (target instanceof DistError) return refuse(reply, target);
    const key = target.key ?? keyOf?.();
    if (key === undefined) return refuse(reply, new DistError('E_KV_BAD_KEY', `${service}.${method} needs a key`, { field: 'key' }));
    const owner = ownerOf(key);
    if (owner instanceof DistError) return refuse(reply, owner);
    host.call(owner, service, method, [...value, { key, gid: target.gid }], reply);
  };

  /** Every member's keys of `gid`: `(errors by SID, keys)`, keys in SID order so the answer is stable. */
  const allKeys = (gid: string, reply: Callback): void => {
    const members = host.members();
    if (members.length === 0) return refuse(reply, new DistError('E_GROUP_EMPTY', `group ${host.gid} has no members`, { gid: host.gid }));
    const errors: Record<string, Error> = {};
    const keysBySid = new Map<string, string[]>();
    let waiting = members.length;
    for (const [sid, address] of members) {
      host.call(address, service, 'get', [{ key: null, gid }], (err, keys) => {
        if (err !== null) errors[sid] = err;
        else keysBySid.set(sid, keys as string[]);
        if (--waiting > 0) return;
        const all = [...keysBySid.keys()].sort().flatMap((s) => keysBySid.get(s) as string[]);
        reply(errors as unknown as Error, all);
      });
    }
  };

  return {
    put: defineMethod(2, ([value, cfg], reply) => routed('put', [value], cfg, reply, () => getID(value))),
    get: defineMethod(1, ([cfg], reply) => {
      const target = groupTarget(cfg, host.gid);
      if (target instanceof DistError) return refuse(reply, target);
      if (target.key === null) return allKeys(target.gid, reply);
      routed('get', [], cfg, reply);
    }, { idempotent: true }),
    del: defineMethod(1, ([cfg], reply) => routed('del', [], cfg, reply)),
    append: defineMethod(2, ([value, cfg], reply) => routed('append', [value], cfg, reply, () => getID(value))),
    reconf: defineMethod(1, ([oldGroup], reply) => reconf(host, service, oldGroup, reply)),
  };
}

/** Holders of the gid's data: the old members and the current ones, by node id, each once. */
function holdersOf(oldGroup: unknown, current: readonly (readonly [string, NodeAddress])[]): NodeId[] | DistError {
  if (typeof oldGroup !== 'object' || oldGroup === null) return new DistError('E_KV_BAD_GROUP', 'reconf needs the old group {sid: node}', { field: 'oldGroup' });
  const nodes = Object.values(oldGroup as Record<string, unknown>);
  if (!nodes.every(isNodeAddress)) return new DistError('E_KV_BAD_GROUP', 'every member of the old group must be {ip, port}', { field: 'oldGroup' });
  return [...new Set([...nodes.map(nodeIdOf), ...current.map(([, address]) => nodeIdOf(address))])].sort();
}

/**
 * Collects every holder's keys, plans exactly the moves whose owner changed, and runs them at most
 * `reconfMovesInFlightMax` at a time: get from the old owner, put on the new, delete the old copy (in
 * that order, so a failure leaves the key on at least one node). Answers `(firstError | null, moved)`.
 */
function reconf(host: GroupStorageHost, service: string, oldGroup: unknown, reply: Callback): void {
  const members = host.members();
  const holders = holdersOf(oldGroup, members);
  if (holders instanceof DistError) return host.later(() => reply(holders));
  if (members.length === 0) return host.later(() => reply(new DistError('E_GROUP_EMPTY', `group ${host.gid} has no members`, { gid: host.gid })));
  const gid = host.gid;
  const keysByNode = new Map<NodeId, readonly string[]>();
  let waiting = holders.length;
  let failed: Error | null = null;
  for (const holder of holders) {
    host.call(addressOf(holder), service, 'get', [{ key: null, gid }], (err, keys) => {
      if (err !== null) failed ??= err;
      else keysByNode.set(holder, keys as string[]);
      if (--waiting > 0) return;
      if (failed !== null) return reply(failed);
      const moves = planReconf(keysByNode, members.map(([, address]) => nodeIdOf(address)), hashPlacer(host.hash()));
      runMoves(host, service, moves, reply);
    });
  }
}

function runMoves(host: GroupStorageHost, service: string, moves: readonly Move[], reply: Callback): void {
  const gid = host.gid;
  let next = 0;
  let done = 0;
  let failed: Error | null = null;
  if (moves.length === 0) return host.later(() => reply(null, 0));
  const launch = (): void => {
    const { key, from, to } = moves[next++] as Move;
    const finish = (err: Error | null): void => {
      if (err !== null) failed ??= err;
      if (++done === moves.length) return reply(failed, moves.length);
      if (next < moves.length) launch();
    };
    const cfg = { key, gid };
    host.call(addressOf(from), service, 'get', [cfg], (getErr, value) => {
      if (getErr !== null) return finish(getErr);
      host.call(addressOf(to), service, 'put', [value, cfg], (putErr) => {
        if (putErr !== null) return finish(putErr);
        host.call(addressOf(from), service, 'del', [cfg], finish);
      });
    });
  };
  for (let i = 0; i < Math.min(reconfMovesInFlightMax, moves.length); i++) launch();
}
