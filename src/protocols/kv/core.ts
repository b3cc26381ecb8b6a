/**
 * The pure rules of group storage: versions, ownership tokens and the reconfiguration planner.
 *
 * Ownership token (per gid, per node). A node serves a key only while the key is in its token:
 *   token = { members, minus }: keys that `members` places on this node, except those that some puller
 *   took from it since (each puller's predicate: keys that the puller's members place on the puller).
 * A node gets a token by a *settle round*: it asks every holder of the gid (every node that may keep
 * data of it, dead ones included) for the records it now owns; each holder, on that request, removes the
 * puller's predicate from its own token and from its own round in progress, and answers its records.
 * Once every holder has answered and the merged records are durable here, the round's token is
 * installed. Exclusivity: for two nodes X and H whose tokens both cover k, one of them received the
 * other's pull while its own round or token was live and would have removed k; so at most one node
 * serves a key at any time, whatever the membership views (tested in the simulator by the kv checker).
 *
 * Versions (Lamport): a write on the owner gets (max(clock, stored counter) + 1, owner); records move
 * with their versions, and merging keeps the larger, so a write acknowledged after another always has
 * the larger version, and copies arriving late or twice change nothing.
 */
import { assert } from '../../lib/assert.js';
import type { NodeId } from '../../env/index.js';
import type { Meta } from './engine.js';
import { getID, nidOf } from '../node/id.js';
import { placer, type Placement, type Placer } from './placement.js';

/** Version of a value written by a course call outside the group layer (no meta): older than any write. */
export const unversioned: Meta = { counter: 0, node: '', deleted: false };

export function compareMeta(a: Meta, b: Meta): number {
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** A record moving between nodes: a key, its version, and its value unless it is a tombstone. */
export interface KvRecord {
  readonly key: string;
  readonly meta: Meta;
  readonly value?: unknown;
}

/** Keeps, per key, the record with the largest version. */
export function mergeRecords(into: Map<string, KvRecord>, records: readonly KvRecord[]): void {
  for (const record of records) {
    const held = into.get(record.key);
    if (held === undefined || compareMeta(held.meta, record.meta) < 0) into.set(record.key, record);
  }
}

/** Which member of a member list owns a key; `NodePlacer` (a Placement) and the course group layer (a
 * group's HashFn) both give one. */
export interface MemberPlacer {
  forMembers(members: readonly NodeId[]): (key: string) => NodeId;
}

/** Placement over Env node ids (the hash works on their course NIDs). Cached per member list. */
export class NodePlacer implements MemberPlacer {
  private readonly cache = new Map<string, (key: string) => NodeId>();
  private static readonly cacheMax = 64;

  constructor(readonly placement: Placement) {}

  forMembers(members: readonly NodeId[]): (key: string) => NodeId {
    assert(members.length > 0, 'placement needs members');
    const sorted = [...members].sort();
    const cacheKey = sorted.join('\n');
    let place = this.cache.get(cacheKey);
    if (place === undefined) {
      const byNid = new Map(sorted.map((id) => [nidOf(id), id]));
      const nidPlacer: Placer = placer(this.placement, [...byNid.keys()]);
      place = (key) => byNid.get(nidPlacer(getID(key))) as NodeId;
      if (this.cache.size >= NodePlacer.cacheMax) this.cache.clear();
      this.cache.set(cacheKey, place);
    }
    return place;
  }
}

/** A puller's predicate: the keys `members` places on `puller`. */
export interface Claim {
  readonly puller: NodeId;
  readonly members: readonly NodeId[];
}

/** Claims one token may carry before its node must settle again. */
export const claimsMax = 16;

export class Token {
  private readonly claims: Claim[] = [];

  constructor(readonly self: NodeId, readonly members: readonly NodeId[]) {
    assert(members.includes(self), 'a token is for a view that includes its node');
  }

  /** A puller took its claim from us. A puller with our own members claims keys we never had. */
  subtract(claim: Claim): void {
    if (sameMembers(claim.members, this.members) && claim.puller !== this.self) return;
    this.claims.push(claim);
  }

  get full(): boolean {
    return this.claims.length >= claimsMax;
  }

  get claimCount(): number {
    return this.claims.length;
  }

  covers(key: string, placer: NodePlacer): boolean {
    if (placer.forMembers(this.members)(key) !== this.self) return false;
    return this.claims.every((c) => placer.forMembers(c.members)(key) !== c.puller);
  }
}

export function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((id, i) => id === sortedB[i]);
}

/** What a holder hands to a puller: its keys that the puller's members place on the puller. */
export function handOff(keys: readonly string[], claim: Claim, placer: NodePlacer): string[] {
  const place = placer.forMembers(claim.members);
  return keys.filter((key) => place(key) === claim.puller);
}

export interface Move {
  readonly key: string;
  readonly from: NodeId;
  readonly to: NodeId;
}

/**
 * The reconfiguration plan: given each node's keys and the new members, exactly the keys whose owner
 * changes (a key held by a node that the new members do not place it on), and no others. Pure; keys
 * and holders in sorted order, so the plan is the same on every node.
 */
export function planReconf(keysByNode: ReadonlyMap<NodeId, readonly string[]>, newMembers: readonly NodeId[], placer: MemberPlacer): Move[] {
  const place = placer.forMembers(newMembers);
  const moves: Move[] = [];
  for (const from of [...keysByNode.keys()].sort()) {
    for (const key of [...(keysByNode.get(from) as readonly string[])].sort()) {
      const to = place(key);
      if (to !== from) moves.push({ key, from, to });
    }
  }
  return moves;
}
