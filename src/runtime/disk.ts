/**
 * `Disk` over LMDB, one directory per node.
 *
 * - Read-your-writes: a batch is visible to `get`/`scan` as soon as `write` returns, through an overlay of
 *   pending values kept until LMDB has committed it. Per key the overlay is a stack of pending versions,
 *   so a failed batch uncovers the batch below it rather than the last committed value.
 * - Durability: by default `onDurable` fires after the commit promise resolves and LMDB reports the commit
 *   flushed (fsync: survives power loss). With `durableAt: 'commit'` LMDB never fsyncs (`noSync`) and it
 *   fires at the commit: the data is in the OS page cache, so it survives a crash of the process but not of
 *   the machine, which may also leave the file unreadable. The course facade uses this: the course's store
 *   promises survival of a node restart, which its file writes give without fsync; a sequential put is
 *   ~10x faster here (~40 µs vs ~380 µs: with overlapping sync, each commit still waits for the last flush).
 * - Atomicity: a batch is one `db.batch`, so one transaction; a batch that fails validation or commit
 *   reports a coded error and none of it is applied (its overlay entries are removed).
 * - Order: keys are stored as UTF-16BE bytes, so LMDB's byte order is exactly JavaScript's code-unit
 *   string order (what the Env promises and what the overlay merge compares with).
 */
import { createRequire } from 'node:module';
import type { RootDatabase } from 'lmdb';
import type { Disk, DiskOp, DiskRange, DiskWriteResult } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';

// Through Node's own require rather than an import: the course facade's CommonJS bundle must require
// nothing but built-ins, and under Jest 27 even `createRequire` is Jest's, whose module system fails on
// lmdb's ESM dependencies; `process.getBuiltinModule` (Node >= 20.16) reaches Node's real one.
// Loaded at the first open, not at import: lmdb's native part costs ~30 ms of start-up, which a node that
// never touches its disk (most course nodes, every spawned child until `store` is used) should not pay.
let lmdbOpen: typeof import('lmdb').open | undefined;

function openLmdb(): typeof import('lmdb').open {
  if (lmdbOpen === undefined) {
    const nodeModule = (process as { getBuiltinModule?: (name: string) => unknown }).getBuiltinModule?.('node:module') as { createRequire: typeof createRequire } | undefined;
    lmdbOpen = ((nodeModule?.createRequire ?? createRequire)(import.meta.url)('lmdb') as typeof import('lmdb')).open;
  }
  return lmdbOpen;
}

/** LMDB's limit with the default page size. */
export const diskKeyBytesMax = 1978;
export const diskValueBytesMax = 64 * 1024 * 1024;
/** Largest batch accepted in one `write`. */
export const diskBatchOpsMax = 100_000;

/** When a write counts as durable: fsynced (`flush`) or committed to the OS (`commit`). */
export type DurableAt = 'flush' | 'commit';

export interface LmdbDiskOptions {
  readonly durableAt?: DurableAt;
}

interface Pending {
  readonly version: number;
  readonly value: Uint8Array | undefined;
}

export class LmdbDisk implements Disk {
  private readonly db: RootDatabase<Buffer, Buffer>;
  private readonly overlay = new Map<string, Pending[]>();
  private versionNext = 1;
  private closed = false;
  private readonly durableAt: DurableAt;

  constructor(path: string, options: LmdbDiskOptions = {}) {
    assert(typeof path === 'string' && path.length > 0, 'LmdbDisk: path required');
    this.durableAt = options.durableAt ?? 'flush';
    assert(this.durableAt === 'flush' || this.durableAt === 'commit', 'LmdbDisk: durableAt is flush or commit');
    this.db = openLmdb()<Buffer, Buffer>({ path, encoding: 'binary', keyEncoding: 'binary', compression: false, noSync: this.durableAt === 'commit' });
  }

  get(key: string): Uint8Array | undefined {
    assert(typeof key === 'string', 'disk.get: key must be a string');
    const pending = this.overlay.get(key);
    if (pending !== undefined) return copyOrUndefined(pending[pending.length - 1]!.value);
    if (byteLengthOfKey(key) > diskKeyBytesMax) return undefined; // could never have been written
    // lmdb's own binary get copies into a fresh typed array, which V8 allocates off-heap above 64 bytes
    // (about 0.8 µs each); reading its reusable buffer and copying into Node's pooled slab is 3x faster.
    const view = this.db.getBinaryFast(encodeKey(key)) as (Buffer & { isGlobal?: boolean }) | undefined;
    if (view === undefined) return undefined;
    const length = view.isGlobal === true ? (this.db as unknown as { lastSize: number }).lastSize : view.length;
    return copyBytes(new Uint8Array(view.buffer, view.byteOffset, length));
  }

  scan(range: DiskRange): Iterable<[string, Uint8Array]> {
    checkRange(range);
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    const before = range.reverse === true ? (a: string, b: string) => a > b : (a: string, b: string) => a < b;
    const pendingKeys = this.pendingKeysIn(range);
    const stored = this.storedEntries(range)[Symbol.iterator]();
    const out: [string, Uint8Array][] = [];
    let next = stored.next();
    let p = 0;
    // Merge two sorted runs; a pending version shadows the stored one, a pending delete hides it.
    while (out.length < limit && (!next.done || p < pendingKeys.length)) {
      const storedKey = next.done ? undefined : next.value[0];
      const pendingKey = p < pendingKeys.length ? pendingKeys[p]! : undefined;
      if (pendingKey !== undefined && (storedKey === undefined || !before(storedKey, pendingKey))) {
        const stack = this.overlay.get(pendingKey)!;
        const value = stack[stack.length - 1]!.value;
        if (value !== undefined) out.push([pendingKey, copyBytes(value)]);
        if (storedKey === pendingKey) next = stored.next();
        p++;
      } else {
        assert(storedKey !== undefined && !next.done, 'scan merge: stored entry expected');
        out.push([storedKey, next.value[1]]);
        next = stored.next();
      }
    }
    return out;
  }

  write(batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void {
    assert(Array.isArray(batch), 'disk.write: batch must be an array');
    assert(typeof onDurable === 'function', 'disk.write: onDurable must be a function');
    const invalid = this.closed ? new DistError('E_DISK_CLOSED', 'disk is closed') : validateBatch(batch);
    if (invalid !== undefined) {
      setImmediate(() => onDurable({ ok: false, error: invalid }));
      return;
    }
    const version = this.versionNext++;
    // Copy values now: the caller may reuse its buffers as soon as write returns.
    const ops = batch.map((op) => ({ key: op.key, value: op.value === undefined ? undefined : copyBytes(op.value) }));
    for (const op of ops) this.pushPending(op.key, { version, value: op.value });
    const committed = this.db.batch(() => {
      for (const op of ops) {
        if (op.value === undefined) void this.db.remove(encodeKey(op.key));
        else void this.db.put(encodeKey(op.key), Buffer.from(op.value.buffer, op.value.byteOffset, op.value.length));
      }
    });
    committed
      .then(() => this.db.flushed) // resolved at once under noSync
      .then(
        () => {
          this.popPending(ops, version);
          onDurable({ ok: true });
        },
        (cause: unknown) => {
          this.popPending(ops, version);
          onDurable({ ok: false, error: new DistError('E_DISK_WRITE', `lmdb commit failed: ${(cause as Error)?.message ?? String(cause)}`, undefined, { cause }) });
        },
      );
  }

  /** Number of keys with uncommitted writes (for tests and stats). */
  get pendingKeyCount(): number {
    return this.overlay.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.committed;
    await this.db.close();
  }

  private pushPending(key: string, pending: Pending): void {
    const stack = this.overlay.get(key);
    if (stack === undefined) this.overlay.set(key, [pending]);
    else stack.push(pending);
  }

  private popPending(ops: readonly { key: string }[], version: number): void {
    for (const op of ops) {
      const stack = this.overlay.get(op.key);
      if (stack === undefined) continue; // the same key twice in one batch: already removed
      const kept = stack.filter((pending) => pending.version !== version);
      if (kept.length === 0) this.overlay.delete(op.key);
      else this.overlay.set(op.key, kept);
    }
  }

  private pendingKeysIn(range: DiskRange): string[] {
    const keys: string[] = [];
    for (const key of this.overlay.keys()) if (inRange(key, range)) keys.push(key);
    keys.sort();
    if (range.reverse === true) keys.reverse();
    return keys;
  }

  private *storedEntries(range: DiskRange): Generator<[string, Uint8Array]> {
    const options = range.reverse === true
      ? { start: keyOrUndefined(range.end), end: keyOrUndefined(range.start), reverse: true, exclusiveStart: true, inclusiveEnd: true }
      : { start: keyOrUndefined(range.start), end: keyOrUndefined(range.end) };
    for (const { key, value } of this.db.getRange(options)) {
      const text = decodeKey(key);
      // Belt and braces over lmdb's bound flags: the Env's range is [start, end).
      if (!inRange(text, range)) continue;
      yield [text, value];
    }
  }
}

function inRange(key: string, range: DiskRange): boolean {
  return (range.start === undefined || key >= range.start) && (range.end === undefined || key < range.end);
}

function checkRange(range: DiskRange): void {
  assert(typeof range === 'object' && range !== null, 'disk.scan: range must be an object');
  assert(range.start === undefined || typeof range.start === 'string', 'disk.scan: start must be a string');
  assert(range.end === undefined || typeof range.end === 'string', 'disk.scan: end must be a string');
  assert(range.limit === undefined || (Number.isInteger(range.limit) && range.limit >= 0), 'disk.scan: limit must be an integer >= 0');
}

function validateBatch(batch: readonly DiskOp[]): DistError | undefined {
  if (batch.length > diskBatchOpsMax) return new DistError('E_DISK_BATCH_TOO_LARGE', `batch of ${batch.length} ops > ${diskBatchOpsMax}`);
  for (const op of batch) {
    if (typeof op?.key !== 'string') return new DistError('E_DISK_BAD_KEY', 'disk keys must be strings');
    if (byteLengthOfKey(op.key) > diskKeyBytesMax) {
      return new DistError('E_DISK_KEY_TOO_LARGE', `key of ${byteLengthOfKey(op.key)} bytes > ${diskKeyBytesMax}`, { keyPrefix: op.key.slice(0, 32) });
    }
    if (op.value !== undefined && !(op.value instanceof Uint8Array)) return new DistError('E_DISK_BAD_VALUE', 'disk values must be Uint8Array or undefined');
    if (op.value !== undefined && op.value.length > diskValueBytesMax) {
      return new DistError('E_DISK_VALUE_TOO_LARGE', `value of ${op.value.length} bytes > ${diskValueBytesMax}`);
    }
  }
  return undefined;
}

function byteLengthOfKey(key: string): number {
  return 1 + key.length * 2;
}

/** UTF-16BE, so byte order equals code-unit order, behind a one-byte prefix because LMDB refuses an
 * empty key and the Env allows one. */
function encodeKey(key: string): Buffer {
  const length = key.length;
  const buffer = Buffer.allocUnsafe(1 + length * 2);
  buffer[0] = 0x6b; // 'k'
  // Plain byte stores: about twice as fast as writeUInt16BE per unit, and every get pays for this.
  for (let i = 0; i < length; i++) {
    const unit = key.charCodeAt(i);
    buffer[1 + 2 * i] = unit >>> 8;
    buffer[2 + 2 * i] = unit & 0xff;
  }
  return buffer;
}

function decodeKey(bytes: Buffer): string {
  assert(bytes.length % 2 === 1 && bytes[0] === 0x6b, 'disk: foreign key in lmdb');
  const units = new Array<number>((bytes.length - 1) / 2);
  for (let i = 0; i < units.length; i++) units[i] = bytes.readUInt16BE(1 + i * 2);
  return String.fromCharCode(...units);
}

function keyOrUndefined(key: string | undefined): Buffer | undefined {
  return key === undefined ? undefined : encodeKey(key);
}

function copyOrUndefined(value: Uint8Array | undefined): Uint8Array | undefined {
  return value === undefined ? undefined : copyBytes(value);
}

/** A copy in Node's pooled slab (small values share 8 KiB chunks; no off-heap allocation each). */
function copyBytes(source: Uint8Array): Uint8Array {
  const copy = Buffer.allocUnsafe(source.length);
  copy.set(source);
  return copy;
}
