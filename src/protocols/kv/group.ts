/**
 * COURSE-API's group `mem` / `store` (`distribution[gid].mem.put(value, cfg, cb)` …): plain course
 * semantics, routed directly by the group's hash. Each call goes to one member, the owner of
 * `hash(getID(key), memberNids)` (naive by default), as the local method with `{key, gid}`; the answer
 * is that member's `(err, value)`. `get(null)` asks every member for its keys of the gid and answers
 * `(errors by SID, all keys)`, errors `{}` when none failed. An explicit gid in `cfg` wins over the
 * group's for namespacing. `reconf(oldGroup)` moves exactly the keys whose owner changed
 * (`planReconf`), each with compare-and-set steps on the members' local stores (`cas`, local.ts), so
 * that puts racing the move lose nothing: the copy lands on the new owner only if no put reached it
 * first (a put routed by the new group is newer), and the old copy goes only if it is still the value
 * copied (a late put routed by the old group is carried over too, up to `reconfCarryOversMax` times).
 *
 * What this layer does not promise (the `kv` program, shard.ts, does): a get racing a move may find the
 * key missing on the new owner before the copy lands, and a member's view of the group is whatever its
 * groups table says. It has no state of its own; every call reads the members at call time.
 */
import type { NodeId } from '../../env/index.js';
import { DistError, hasCode } from '../../lib/errors.js';
import { addressOf, getID, isNodeAddress, nidOf, nodeIdOf, type HashFn, type NodeAddress } from '../node/id.js';
import { defineMethod, type Callback, type Service } from '../node/method.js';
import { planReconf, type MemberPlacer, type Move } from './core.js';
import { parseTarget, type CasAnswer, type KvTarget } from './local.js';

/** Moves of one reconfiguration in flight at once (each a get and two compare-and-sets, `moveKey`). */
export const reconfMovesInFlightMax = 64;
/** Late puts to a key's old owner one move carries over before it gives up with E_KV_RECONF_RACE. */
export const reconfCarryOversMax = 8;

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
 * `reconfMovesInFlightMax` at a time (`moveKey`: the copy lands before the old one goes, so a failure
 * leaves the key on at least one node). Answers `(firstError | null, moved)`.
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
    moveKey(host, service, { key, gid }, addressOf(from), addressOf(to), finish);
  };
  for (let i = 0; i < Math.min(reconfMovesInFlightMax, moves.length); i++) launch();
}

/**
 * One key from its old owner to its new one, safe against puts racing the move:
 *   1. read the value on `from` (gone meanwhile: nothing to move);
 *   2. put it on `to` only if `to` still holds what we expect there (nothing, at first): if a put reached
 *      `to` first, it is newer than anything on `from`, whose copy is then simply deleted;
 *   3. delete it from `from` only if `from` still holds the value copied: if a late put (routed by the old
 *      group) changed it, carry that value over as in 2, expecting our own copy on `to`, and repeat.
 */
function moveKey(host: GroupStorageHost, service: string, cfg: { key: string; gid: string }, from: NodeAddress, to: NodeAddress, done: (err: Error | null) => void): void {
  const call = (at: NodeAddress, method: string, args: unknown[], callback: Callback): void => host.call(at, service, method, [...args, cfg], callback);
  const dropOld = (): void => call(from, 'del', [], (err) => done(err === null || hasCode(err, 'E_KV_NOT_FOUND') ? null : err));
  const copy = (expected: unknown, value: unknown, carryOvers: number): void => {
    call(to, 'cas', [expected, { value }], (err, answer) => {
      if (err !== null) return done(err);
      if (!(answer as CasAnswer).swapped) return dropOld();
      call(from, 'cas', [{ value }, { absent: true }], (delErr, delAnswer) => {
        if (delErr !== null) return done(delErr);
        const result = delAnswer as CasAnswer;
        if (result.swapped || !('value' in result.current)) return done(null);
        if (carryOvers === 0) return done(new DistError('E_KV_RECONF_RACE', `key ${cfg.key} kept changing on its old owner`, { key: cfg.key.slice(0, 80) }));
        copy({ value }, result.current.value, carryOvers - 1);
      });
    });
  };
  call(from, 'get', [], (err, value) => {
    if (err !== null) return done(hasCode(err, 'E_KV_NOT_FOUND') ? null : err);
    copy({ absent: true }, value, reconfCarryOversMax);
  });
}
