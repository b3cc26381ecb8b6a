/**
 * Local storage engines: `mem` (a map in this node's memory, gone on a crash) and `store` (the Env
 * disk: lmdb in the runtime, the simulated disk in the simulator; survives restarts). Both hold values
 * by (gid, key) and, for the group layer, an optional version record per key (meta) written in the
 * same atomic batch as the value.
 *
 * Store layout on the disk (one ordered KV space per node):
 *   `kv/<gid>\0<key>`   the value, through the project's binary serializer
 *   `kvm/<gid>\0<key>`  the version record (group layer only)
 * A gid never contains \0, so one gid's keys form one contiguous range. Keys may be any string (no
 * file names are involved); their length is bounded so a disk key fits lmdb's 1,978-byte limit (keys
 * are stored as UTF-16, two bytes per code unit).
 *
 * Writes: every op of a `write` is validated and encoded first, then the ops go to the disk as one
 * batch; the callback runs in onDurable, so a caller replies only once the batch is on disk, and a
 * failed batch (full or failing disk) leaves nothing behind (the Env undoes it) and answers E_KV_DISK.
 */
import type { Disk, DiskOp } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';

/** UTF-16 code units of a key; with the prefix and gid it stays under lmdb's 1,978-byte key limit. */
export const keyCharsMax = 900;
export const gidCharsMax = 64;
/** Largest encoded value `store` accepts (and `mem` through the group layer, which ships it). */
export const valueBytesMaxDefault = 512 * 1024;
/** Ops in one engine write; a bound on one disk batch. */
export const writeOpsMax = 10_000;

/** A key's version for the group layer: a Lamport counter, the node that wrote it, and a tombstone flag. */
export interface Meta {
  readonly counter: number;
  readonly node: string;
  readonly deleted: boolean;
}

/** `meta`: undefined leaves the version record alone, null removes it. */
export type KvOp =
  | { readonly gid: string; readonly key: string; readonly put: true; readonly value: unknown; readonly meta?: Meta | null }
  | { readonly gid: string; readonly key: string; readonly put: false; readonly meta?: Meta | null };

export type Found = { readonly value: unknown } | undefined;
export type WriteCallback = (err: DistError | null) => void;

export interface KvEngine {
  readonly kind: 'mem' | 'store';
  get(gid: string, key: string): Found;
  /** Keys of `gid` holding a value, in code-unit order. */
  keys(gid: string): string[];
  meta(gid: string, key: string): Meta | undefined;
  /** Keys of `gid` with a version record (values and tombstones), in code-unit order. */
  metaKeys(gid: string): string[];
  /** Applies all ops or none; the callback runs once they are durable (mem: at once). */
  write(ops: readonly KvOp[], onDone: WriteCallback): void;
}

export function checkGid(gid: unknown): DistError | undefined {
  if (typeof gid !== 'string' || gid.length === 0 || gid.length > gidCharsMax || gid.includes('\0')) {
    return new DistError('E_KV_BAD_GID', `gid must be a string of 1..${gidCharsMax} characters without \\0`, { field: 'gid' });
  }
  return undefined;
}

export function checkKey(key: unknown): DistError | undefined {
  if (typeof key !== 'string') return new DistError('E_KV_BAD_KEY', 'key must be a string (or null where allowed)', { field: 'key', type: typeof key });
  if (key.length > keyCharsMax) return new DistError('E_KV_KEY_TOO_LONG', `key longer than ${keyCharsMax} characters`, { field: 'key', length: key.length });
  return undefined;
}

/** Built once: an assertion's message is evaluated on every call. */
const writeOpsMessage = `a write has 1..${writeOpsMax} ops`;

function checkOps(ops: readonly KvOp[]): DistError | undefined {
  assert(ops.length > 0 && ops.length <= writeOpsMax, writeOpsMessage);
  for (const op of ops) {
    const bad = checkGid(op.gid) ?? checkKey(op.key);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Encodes a value for the disk or the wire, refusing unserializable or oversized values with codes. */
export function encodeValue(value: unknown, valueBytesMax: number): Uint8Array | DistError {
  let bytes: Uint8Array;
  try {
    bytes = encode(value);
  } catch (cause) {
    return new DistError('E_KV_UNSERIALIZABLE', 'the value cannot be serialized', { reason: (cause as { code?: string })?.code }, { cause });
  }
  if (bytes.length > valueBytesMax) {
    return new DistError('E_KV_VALUE_TOO_LARGE', `value of ${bytes.length} bytes exceeds ${valueBytesMax}`, { bytes: bytes.length, bytesMax: valueBytesMax });
  }
  return bytes;
}

/** `mem`: maps per gid. Keys come back sorted so iteration order never depends on insertion. */
export class MemEngine implements KvEngine {
  readonly kind = 'mem';
  private readonly values = new Map<string, Map<string, unknown>>();
  private readonly metas = new Map<string, Map<string, Meta>>();

  get(gid: string, key: string): Found {
    const space = this.values.get(gid);
    return space !== undefined && space.has(key) ? { value: space.get(key) } : undefined;
  }

  keys(gid: string): string[] {
    return [...(this.values.get(gid)?.keys() ?? [])].sort();
  }

  meta(gid: string, key: string): Meta | undefined {
    return this.metas.get(gid)?.get(key);
  }

  metaKeys(gid: string): string[] {
    return [...(this.metas.get(gid)?.keys() ?? [])].sort();
  }

  write(ops: readonly KvOp[], onDone: WriteCallback): void {
    const bad = checkOps(ops);
    if (bad !== undefined) return onDone(bad);
    for (const op of ops) {
      const space = spaceOf(this.values, op.gid);
      if (op.put) space.set(op.key, op.value);
      else space.delete(op.key);
      if (op.meta === null) spaceOf(this.metas, op.gid).delete(op.key);
      else if (op.meta !== undefined) spaceOf(this.metas, op.gid).set(op.key, op.meta);
    }
    onDone(null);
  }
}

function spaceOf<T>(spaces: Map<string, Map<string, T>>, gid: string): Map<string, T> {
  let space = spaces.get(gid);
  if (space === undefined) spaces.set(gid, (space = new Map()));
  return space;
}

/** Where a gid's values and version records live on disk: `kv/<gid>\0<key>` and `kvm/<gid>\0<key>`. */
interface GidPrefixes {
  readonly value: string;
  readonly meta: string;
}

/** Prefixes of the gids met lately, so a key costs one concatenation (a put's key was ~2% of its time). */
const gidPrefixes = new Map<string, GidPrefixes>();
/** Distinct gids remembered; past it the memory starts afresh. */
const gidPrefixesMax = 1_024;

function prefixesOf(gid: string): GidPrefixes {
  let prefixes = gidPrefixes.get(gid);
  if (prefixes === undefined) {
    if (gidPrefixes.size >= gidPrefixesMax) gidPrefixes.clear();
    prefixes = { value: `kv/${gid}\0`, meta: `kvm/${gid}\0` };
    gidPrefixes.set(gid, prefixes);
  }
  return prefixes;
}

function scanKeys(disk: Disk, start: string): string[] {
  const keys: string[] = [];
  // Keys of the gid lie in [`<prefix><gid>\0`, `<prefix><gid>\u0001`).
  const end = `${start.slice(0, -1)}\u0001`;
  for (const [key] of disk.scan({ start, end })) keys.push(key.slice(start.length));
  return keys;
}

function diskOpsCount(ops: readonly KvOp[]): number {
  let count = ops.length;
  for (const op of ops) if (op.meta !== undefined) count++;
  return count;
}

/** The serializer never writes again where a document it returned lies, so the disk may keep its bytes. */
function diskOp(key: string, encoded: Uint8Array | undefined): DiskOp {
  return encoded === undefined ? { key, value: undefined } : { key, value: encoded, frozen: true };
}

function decodeFound(bytes: Uint8Array): Found {
  return { value: decode(bytes) };
}

/** `store`: the Env disk. */
export class StoreEngine implements KvEngine {
  readonly kind = 'store';

  constructor(private readonly disk: Disk, private readonly valueBytesMax = valueBytesMaxDefault) {
    assert(Number.isInteger(valueBytesMax) && valueBytesMax > 0, 'valueBytesMax must be a positive integer');
  }

  get(gid: string, key: string): Found {
    const diskKeyText = prefixesOf(gid).value + key;
    // Decoding in place spares a copy per read (~7% of a local get); decode keeps nothing of its input.
    if (this.disk.read !== undefined) return this.disk.read(diskKeyText, decodeFound);
    const bytes = this.disk.get(diskKeyText);
    return bytes === undefined ? undefined : decodeFound(bytes);
  }

  keys(gid: string): string[] {
    return scanKeys(this.disk, prefixesOf(gid).value);
  }

  meta(gid: string, key: string): Meta | undefined {
    const diskKeyText = prefixesOf(gid).meta + key;
    if (this.disk.read !== undefined) return this.disk.read(diskKeyText, decode) as Meta | undefined;
    const bytes = this.disk.get(diskKeyText);
    return bytes === undefined ? undefined : (decode(bytes) as Meta);
  }

  metaKeys(gid: string): string[] {
    return scanKeys(this.disk, prefixesOf(gid).meta);
  }

  write(ops: readonly KvOp[], onDone: WriteCallback): void {
    const bad = checkOps(ops);
    if (bad !== undefined) return onDone(bad);
    // Sized up front: a growing array's first push reserves 17 slots, more than a lone put's whole batch.
    const batch = new Array<DiskOp>(diskOpsCount(ops));
    let at = 0;
    for (const op of ops) {
      const bytes = op.put ? encodeValue(op.value, this.valueBytesMax) : undefined;
      if (bytes instanceof DistError) return onDone(bytes); // nothing written yet: all or nothing
      const prefixes = prefixesOf(op.gid);
      batch[at++] = diskOp(prefixes.value + op.key, bytes);
      if (op.meta !== undefined) batch[at++] = diskOp(prefixes.meta + op.key, op.meta === null ? undefined : encode(op.meta));
    }
    this.disk.write(batch, (result) => {
      if (result.ok) return onDone(null);
      onDone(new DistError('E_KV_DISK', `disk write failed: ${result.error.code}`, { reason: result.error.code }, { cause: result.error }));
    });
  }
}
