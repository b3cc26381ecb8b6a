/**
 * The pure core of groups: the table of groups one node knows, the rules of COURSE-API's local
 * `groups` service, the aggregation rules of group-wide `status.get`, gossip's subset size, and the
 * bounded memory of gossip message ids. No Env.
 *
 * Invariants: a group maps SIDs to `{ip, port}` nodes and every SID is its node's SID; the `all` group
 * always holds this node; callers get copies, never the table's own objects.
 */
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { FifoMap, getSID, hashByName, hashName, isNodeAddress, type HashFn, type NodeAddress } from '../node/index.js';

export type Group = Record<string, NodeAddress>;
/** Gossip fan-out: a fixed count, or a function of the member list as in the course. */
export type SubsetFn = (members: readonly unknown[]) => number;

export interface GroupConfig {
  readonly gid: string;
  readonly hash?: HashFn;
  readonly subset?: number | SubsetFn;
}

export const allGid = 'all';
export const localGid = 'local';
/** Groups one node keeps, and members per group: bounds, not expectations. */
export const groupsMax = 10_000;
export const membersMax = 100_000;

/** `config` is a gid string or `{gid, hash?, subset?}`; a hash may arrive by name (see toWireConfig). */
export function parseGroupConfig(config: unknown): GroupConfig | DistError {
  const raw = typeof config === 'string' ? { gid: config } : config;
  if (typeof raw !== 'object' || raw === null) return new DistError('E_GROUPS_BAD_CONFIG', 'group config must be a gid or {gid, hash?, subset?}');
  const { gid, hash, subset } = raw as { gid?: unknown; hash?: unknown; subset?: unknown };
  if (typeof gid !== 'string' || gid.length === 0 || gid === localGid) {
    return new DistError('E_GROUPS_BAD_CONFIG', "config.gid must be a non-empty string other than 'local'", { field: 'gid' });
  }
  const hashFn = typeof hash === 'string' ? hashByName(hash) : hash;
  if (hashFn !== undefined && typeof hashFn !== 'function') return new DistError('E_GROUPS_BAD_CONFIG', 'config.hash must be a hash function', { field: 'hash' });
  if (subset !== undefined && typeof subset !== 'function' && !(Number.isInteger(subset) && (subset as number) >= 1)) {
    return new DistError('E_GROUPS_BAD_CONFIG', 'config.subset must be an integer >= 1 or a function', { field: 'subset' });
  }
  return { gid, ...(hashFn === undefined ? {} : { hash: hashFn as HashFn }), ...(subset === undefined ? {} : { subset: subset as number | SubsetFn }) };
}

/** The config as it crosses the wire: library hash functions by name, so a receiver gets its own. */
export function toWireConfig(config: GroupConfig): Record<string, unknown> {
  const hash = config.hash === undefined ? undefined : (hashName(config.hash) ?? config.hash);
  return { gid: config.gid, ...(hash === undefined ? {} : { hash }), ...(config.subset === undefined ? {} : { subset: config.subset }) };
}

/** A group from the wire: `{sid: {ip, port}}`. The keys are the members' names as given: the course's
 * nodes store whatever keys they are handed (its tests use made-up SIDs), so a key that is not its
 * node's SID is kept, not refused. */
export function parseGroup(group: unknown): Group | DistError {
  if (typeof group !== 'object' || group === null || Array.isArray(group)) return new DistError('E_GROUPS_BAD_GROUP', 'group must be an object {sid: node}');
  const entries = Object.entries(group as Record<string, unknown>);
  if (entries.length > membersMax) return new DistError('E_GROUPS_BAD_GROUP', `a group has at most ${membersMax} members`);
  const parsed: Group = {};
  for (const [sid, node] of entries) {
    if (!isNodeAddress(node)) return new DistError('E_GROUPS_BAD_GROUP', `member ${sid} is not {ip, port}`, { sid });
    parsed[sid] = { ip: node.ip, port: node.port };
  }
  return parsed;
}

function copyGroup(members: ReadonlyMap<string, NodeAddress>): Group {
  const group: Group = {};
  for (const sid of [...members.keys()].sort()) group[sid] = { ...(members.get(sid) as NodeAddress) };
  return group;
}

interface Entry {
  config: GroupConfig;
  readonly members: Map<string, NodeAddress>;
}

export class GroupsTable {
  private readonly groups = new Map<string, Entry>();

  constructor(readonly self: NodeAddress) {
    assert(isNodeAddress(self), 'GroupsTable needs this node {ip, port}');
    this.groups.set(allGid, { config: { gid: allGid }, members: new Map([[getSID(self), { ip: self.ip, port: self.port }]]) });
  }

  get gids(): string[] {
    return [...this.groups.keys()].sort();
  }

  has(gid: string): boolean {
    return this.groups.has(gid);
  }

  config(gid: string): GroupConfig | undefined {
    return this.groups.get(gid)?.config;
  }

  /** Members sorted by SID, so fan-outs and aggregations run in one order everywhere. */
  members(gid: string): [string, NodeAddress][] {
    const entry = this.groups.get(gid);
    if (entry === undefined) return [];
    return [...entry.members.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  get(gid: unknown): Group | DistError {
    const entry = typeof gid === 'string' ? this.groups.get(gid) : undefined;
    return entry === undefined ? notFound(gid) : copyGroup(entry.members);
  }

  put(config: GroupConfig, group: Group): Group {
    assert(this.groups.size < groupsMax || this.groups.has(config.gid), `at most ${groupsMax} groups`);
    const members = new Map(Object.entries(group).map(([sid, node]) => [sid, { ip: node.ip, port: node.port }]));
    // `all` holds this node whatever a caller puts there.
    if (config.gid === allGid) members.set(getSID(this.self), { ip: this.self.ip, port: this.self.port });
    this.groups.set(config.gid, { config, members });
    return copyGroup(members);
  }

  del(gid: unknown): Group | DistError {
    const entry = typeof gid === 'string' ? this.groups.get(gid) : undefined;
    if (entry === undefined) return notFound(gid);
    this.groups.delete(gid as string);
    return copyGroup(entry.members);
  }

  add(gid: unknown, node: unknown): Group | DistError {
    const entry = typeof gid === 'string' ? this.groups.get(gid) : undefined;
    if (entry === undefined) return notFound(gid);
    if (!isNodeAddress(node)) return new DistError('E_GROUPS_BAD_NODE', 'groups.add needs a node {ip, port}');
    assert(entry.members.size < membersMax, `at most ${membersMax} members`);
    entry.members.set(getSID(node), { ip: node.ip, port: node.port });
    return copyGroup(entry.members);
  }

  /** Removing an unknown SID is a no-op; an unknown group is an error. */
  rem(gid: unknown, sid: unknown): Group | DistError {
    const entry = typeof gid === 'string' ? this.groups.get(gid) : undefined;
    if (entry === undefined) return notFound(gid);
    if (typeof sid === 'string' && !(gid === allGid && sid === getSID(this.self))) entry.members.delete(sid);
    return copyGroup(entry.members);
  }

  /** A dead node leaves every group; returns the gids it was in. */
  removeEverywhere(sid: string): string[] {
    const left: string[] = [];
    if (sid === getSID(this.self)) return left;
    for (const gid of this.gids) if ((this.groups.get(gid) as Entry).members.delete(sid)) left.push(gid);
    return left;
  }
}

function notFound(gid: unknown): DistError {
  return new DistError('E_GROUPS_NOT_FOUND', `no group ${String(gid)}`, { gid: String(gid) });
}

/** Default gossip fan-out, ceil(ln n), at least 1 and at most n. */
export function subsetSize(config: GroupConfig | undefined, members: readonly unknown[]): number {
  const n = members.length;
  if (n === 0) return 0;
  const subset = config?.subset;
  const wanted = typeof subset === 'number' ? subset : typeof subset === 'function' ? Number(subset(members)) : Math.ceil(Math.log(n));
  return Math.min(n, Math.max(1, Number.isFinite(wanted) ? Math.floor(wanted) : 1));
}

export type StatusAggregate = unknown;

/** COURSE-API's group `status.get`: nid/sid give arrays, heapTotal the sum, other keys `{sid: value}`.
 * `values` is keyed by SID; arrays and sums follow sorted SID order, so results do not depend on which
 * reply arrived first. */
export function aggregateStatus(key: unknown, values: Readonly<Record<string, unknown>>): StatusAggregate {
  const sids = Object.keys(values).sort();
  if (key === 'nid' || key === 'sid') return sids.map((sid) => values[sid]);
  if (key === 'heapTotal') return sids.reduce((sum, sid) => sum + Number(values[sid]), 0);
  return values;
}

/** Gossip message ids seen lately; the oldest are forgotten first, so memory stays bounded. */
export class SeenSet {
  private readonly ids: FifoMap<string, true>;

  constructor(readonly seenMax: number) {
    assert(Number.isInteger(seenMax) && seenMax > 0, 'seenMax is a positive integer');
    this.ids = new FifoMap(seenMax);
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Records `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.set(id, true);
    return true;
  }
}

/** Picks `k` distinct items with `pickIndex(n)` in [0, n) (a seeded random), in pick order. */
export function pickSubset<T>(items: readonly T[], k: number, pickIndex: (n: number) => number): T[] {
  assert(k >= 0 && k <= items.length, 'subset size within the list');
  const pool = [...items];
  const picked: T[] = [];
  for (let i = 0; i < k; i++) {
    const j = pickIndex(pool.length);
    picked.push(pool[j] as T);
    pool[j] = pool[pool.length - 1] as T;
    pool.pop();
  }
  return picked;
}
