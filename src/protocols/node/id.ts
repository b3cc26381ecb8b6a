/**
 * Identities, pure: how an Env `NodeId` maps to the course's `{ip, port}` node, its NID and SID, and the
 * three key-placement hash functions of COURSE-API. No Env needed: sha256 of a string is deterministic.
 *
 * The mapping is a bijection so either side can be recovered without a directory:
 * - a node id of the form `host:port` (what the real runtime and the facade use) is `{ip: host, port}`;
 * - any other id (the simulator's `n1`) is `{ip: id, port: 0}`; port 0 is never a real course port, so
 *   the two forms cannot collide.
 *
 * Hash functions travel by name, like native functions: a group config holds the function, and
 * `hashName` / `hashByName` turn it into `'naiveHash'` and back when the config crosses the wire, so a
 * receiver gets its own identical function object rather than a recompiled copy without its imports.
 */
import { hash } from 'node:crypto';
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

/** A node as the course names it. */
export interface NodeAddress {
  readonly ip: string;
  readonly port: number;
}

/** `(kid, nids) => nid`: picks the owner of key id `kid` among `nids`, never mutating `nids`. */
export type HashFn = (kid: string, nids: readonly string[]) => string;

const addressIdPattern = /^(.+):(\d{1,5})$/;
const portMax = 65_535;

export function isNodeAddress(value: unknown): value is NodeAddress {
  if (typeof value !== 'object' || value === null) return false;
  const { ip, port } = value as { ip?: unknown; port?: unknown };
  return typeof ip === 'string' && ip.length > 0 && Number.isInteger(port) && (port as number) >= 0 && (port as number) <= portMax;
}

/** The Env node id of a course node. */
export function nodeIdOf(node: NodeAddress): NodeId {
  // Callers address the same node object call after call: the id string built last time is returned
  // again (if its fields did not change), so maps keyed by node id find a string whose hash is known.
  if (node === lastAddressed.node && node.ip === lastAddressed.ip && node.port === lastAddressed.port) return lastAddressed.id;
  assert(isNodeAddress(node), 'nodeIdOf needs {ip, port}');
  const id = node.port === 0 ? node.ip : `${node.ip}:${node.port}`;
  lastAddressed = { node, ip: node.ip, port: node.port, id };
  return id;
}

/** The last node `nodeIdOf` converted, with the fields it had then. */
let lastAddressed: { readonly node: NodeAddress | undefined; readonly ip: string; readonly port: number; readonly id: NodeId } = { node: undefined, ip: '', port: -1, id: '' };

/** The course node of an Env node id (inverse of `nodeIdOf`). */
export function addressOf(id: NodeId): NodeAddress {
  assert(typeof id === 'string' && id.length > 0, 'addressOf needs a node id');
  const match = addressIdPattern.exec(id);
  const port = match === null ? 0 : Number(match[2]);
  if (match === null || port < 1 || port > portMax) return { ip: id, port: 0 };
  return { ip: match[1] as string, port };
}

/** sha256 hex of `JSON.stringify(obj)`. */
export function getID(obj: unknown): string {
  return hash('sha256', JSON.stringify(obj) ?? 'undefined', 'hex');
}

/** Only `{ip, port}` count, in that order, whatever else the object carries. */
export function getNID(node: NodeAddress): string {
  return getID({ ip: node.ip, port: node.port });
}

export const sidChars = 5;

export function getSID(node: NodeAddress): string {
  return getNID(node).slice(0, sidChars);
}

/** Node ids whose NID is remembered; the memo starts over when full (ids are few and long-lived). */
const nidMemoEntriesMax = 4_096;
const nidMemo = new Map<NodeId, string>();

/**
 * NID and SID of an Env node id. Memoized: group routing asks for every member's NID on every call,
 * and each is a regex match, a JSON text and a sha256.
 */
export function nidOf(id: NodeId): string {
  let nid = nidMemo.get(id);
  if (nid === undefined) {
    nid = getNID(addressOf(id));
    if (nidMemo.size >= nidMemoEntriesMax) nidMemo.clear();
    nidMemo.set(id, nid);
  }
  return nid;
}

export function sidOf(id: NodeId): string {
  return nidOf(id).slice(0, sidChars);
}

function assertNids(nids: readonly string[]): void {
  assert(Array.isArray(nids) && nids.length > 0, 'a hash function needs at least one nid');
}

/** Sort the NIDs, pick index `kid mod n`. */
export const naiveHash: HashFn = function naiveHash(kid, nids) {
  assertNids(nids);
  const sorted = [...nids].sort();
  return sorted[Number(BigInt('0x' + kid) % BigInt(sorted.length))] as string;
};

/** Place kid and every NID on a ring by numeric value; the first NID strictly after kid, wrapping. */
export const consistentHash: HashFn = function consistentHash(kid, nids) {
  assertNids(nids);
  const key = BigInt('0x' + kid);
  const ring = [...nids].map((nid) => ({ nid, at: BigInt('0x' + nid) })).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const after = ring.find((entry) => entry.at > key);
  return (after ?? (ring[0] as { nid: string })).nid;
};

/** Score each NID by `getID(kid + nid)` read as a number; the highest wins. */
export const rendezvousHash: HashFn = function rendezvousHash(kid, nids) {
  assertNids(nids);
  let best = nids[0] as string;
  let bestScore = -1n;
  for (const nid of nids) {
    const score = BigInt('0x' + getID(kid + nid));
    if (score > bestScore) {
      bestScore = score;
      best = nid;
    }
  }
  return best;
};

const hashes: ReadonlyMap<string, HashFn> = new Map([
  ['naiveHash', naiveHash],
  ['consistentHash', consistentHash],
  ['rendezvousHash', rendezvousHash],
]);

export type HashName = 'naiveHash' | 'consistentHash' | 'rendezvousHash';

/** The name a library hash function travels by, or undefined for any other function. */
export function hashName(fn: unknown): HashName | undefined {
  for (const [name, hash] of hashes) if (hash === fn) return name as HashName;
  return undefined;
}

export function hashByName(name: string): HashFn | undefined {
  return hashes.get(name);
}
