/**
 * Placement, pure: which member owns a key. Three schemes:
 * - `naive`: COURSE-API's rule (sort the NIDs, index kid mod n); reused from node/id.ts.
 * - `consistent`: a ring of positions, the owner is the first position strictly after the key,
 *   wrapping. With `vnodes: 0` each member sits at its own NID, which is exactly the course's plain
 *   `consistentHash`; with `vnodes: v > 0` member m sits at sha256(m + '#' + i) for i in [0, v), which
 *   evens out the arcs (load within a few percent of the mean at v = 1,000).
 * - `rendezvous`: the course's highest-random-weight rule (score getID(kid + nid)), as id.ts, compared
 *   as hex strings (equal results, property-tested against id.ts's BigInt version).
 *
 * Keys and positions are 64-hex-digit sha256 strings, so comparing them as strings compares them as
 * numbers: the ring needs no BigInt. Nothing here mutates its inputs; same inputs, same owner.
 */
import { hash } from 'node:crypto';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { getID, naiveHash, type HashFn } from '../node/id.js';

export type SchemeName = 'naive' | 'consistent' | 'rendezvous';

export interface Placement {
  readonly scheme: SchemeName;
  /** Virtual nodes per member, `consistent` only; 0 means the course's plain ring (one point per NID). */
  readonly vnodes?: number;
}

/** A bound on ring size: members * vnodes points are sorted and kept in memory. */
export const vnodesMax = 10_000;
export const hexIdChars = 64;

/** Checks a placement from config, naming the bad field. */
export function parsePlacement(value: unknown): Placement | DistError {
  const p = value as { scheme?: unknown; vnodes?: unknown } | null;
  if (typeof p !== 'object' || p === null) return new DistError('E_KV_BAD_PLACEMENT', 'placement must be {scheme, vnodes?}', { field: 'placement' });
  if (p.scheme !== 'naive' && p.scheme !== 'consistent' && p.scheme !== 'rendezvous') {
    return new DistError('E_KV_BAD_PLACEMENT', 'placement.scheme must be naive, consistent or rendezvous', { field: 'placement.scheme' });
  }
  const vnodes = p.vnodes ?? 0;
  if (!Number.isInteger(vnodes) || (vnodes as number) < 0 || (vnodes as number) > vnodesMax) {
    return new DistError('E_KV_BAD_PLACEMENT', `placement.vnodes must be an integer in [0, ${vnodesMax}]`, { field: 'placement.vnodes' });
  }
  return { scheme: p.scheme, vnodes: vnodes as number };
}

function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** One point of the ring: a position and the member it belongs to. */
export interface RingPoint {
  readonly at: string;
  readonly nid: string;
}

/** The sorted ring for `nids` (ties, practically impossible with sha256, break by nid). */
export function buildRing(nids: readonly string[], vnodes: number): readonly RingPoint[] {
  assert(nids.length > 0, 'a ring needs at least one member');
  assert(Number.isInteger(vnodes) && vnodes >= 0 && vnodes <= vnodesMax, 'vnodes out of range');
  const points: RingPoint[] = [];
  for (const nid of nids) {
    if (vnodes === 0) points.push({ at: nid, nid });
    for (let i = 0; i < vnodes; i++) points.push({ at: sha256Hex(`${nid}#${i}`), nid });
  }
  points.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.nid < b.nid ? -1 : a.nid > b.nid ? 1 : 0));
  return points;
}

/** The first point strictly after `kid`, wrapping: a binary search over the sorted ring. */
export function ringOwner(ring: readonly RingPoint[], kid: string): string {
  assert(ring.length > 0, 'empty ring');
  let lo = 0;
  let hi = ring.length; // invariant: every point below lo is <= kid, every point from hi on is > kid
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ring[mid] as RingPoint).at <= kid) lo = mid + 1;
    else hi = mid;
  }
  return (ring[lo === ring.length ? 0 : lo] as RingPoint).nid;
}

/** `kid -> nid` for a fixed member list: builds what the scheme needs once (the ring), then answers fast. */
export type Placer = (kid: string) => string;

export function placer(placement: Placement, nids: readonly string[]): Placer {
  assert(nids.length > 0, 'placement needs at least one member');
  const members = [...nids];
  switch (placement.scheme) {
    case 'naive': {
      const sorted = [...members].sort();
      return (kid) => naiveHash(kid, sorted);
    }
    case 'rendezvous':
      return (kid) => rendezvousOwner(kid, members);
    case 'consistent': {
      const ring = buildRing(members, placement.vnodes ?? 0);
      return (kid) => ringOwner(ring, kid);
    }
  }
}

/**
 * The course's rendezvous rule (id.ts `rendezvousHash`: highest getID(kid + nid)) without BigInt:
 * scores are 64-hex-digit strings, so string order is numeric order; ties keep the first, as id.ts does.
 */
export function rendezvousOwner(kid: string, nids: readonly string[]): string {
  assert(nids.length > 0, 'rendezvous needs at least one member');
  let best = nids[0] as string;
  let bestScore = '';
  for (const nid of nids) {
    const score = getID(kid + nid);
    if (score > bestScore) {
      bestScore = score;
      best = nid;
    }
  }
  return best;
}

/** One-shot owner of `kid` among `nids`. */
export function ownerOf(placement: Placement, kid: string, nids: readonly string[]): string {
  return placer(placement, nids)(kid);
}

/** The placement as a course `HashFn` `(kid, nids) => nid` (for group configs). */
export function asHashFn(placement: Placement): HashFn {
  return (kid, nids) => ownerOf(placement, kid, nids);
}

/** Keys per member; every member appears, with 0 if it owns nothing. */
export function loadOf(placement: Placement, kids: readonly string[], nids: readonly string[]): Map<string, number> {
  const place = placer(placement, nids);
  const load = new Map<string, number>(nids.map((nid) => [nid, 0]));
  for (const kid of kids) {
    const owner = place(kid);
    load.set(owner, (load.get(owner) as number) + 1);
  }
  return load;
}

/** How many of `kids` change owner between two member lists. */
export function movedCount(placement: Placement, kids: readonly string[], before: readonly string[], after: readonly string[]): number {
  const placeBefore = placer(placement, before);
  const placeAfter = placer(placement, after);
  let moved = 0;
  for (const kid of kids) if (placeBefore(kid) !== placeAfter(kid)) moved++;
  return moved;
}

export interface LoadStats {
  readonly worstOverMean: number;
  readonly mean: number;
  readonly stddev: number;
}

/** Worst/mean and standard deviation of a load map, summed in member order (deterministic floats). */
export function loadStats(load: ReadonlyMap<string, number>): LoadStats {
  const counts = [...load.keys()].sort().map((nid) => load.get(nid) as number);
  assert(counts.length > 0, 'load of no members');
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length;
  return { worstOverMean: mean === 0 ? 0 : Math.max(...counts) / mean, mean, stddev: Math.sqrt(variance) };
}
