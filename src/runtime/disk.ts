/**
 * `Disk` over LMDB, one directory per node.
 *
 * - Read-your-writes: a batch is visible to `get`/`scan` as soon as `write` returns, through an overlay of
 *   pending values kept until LMDB has committed it. Per key the overlay is a stack of pending versions,
 *   so a failed batch uncovers the batch below it rather than the last committed value. Batches still
 *   queued in this run of synchronous code enter the overlay only when something reads (or when they go
 *   to lmdb's writer thread): most commit on this thread before anyone looks, and the four map operations
 *   per key were about a fifth of a put's time there (~430k -> ~530k puts/s, 50 in flight).
 * - Durability: by default `onDurable` fires after the commit promise resolves and LMDB reports the commit
 *   flushed (fsync: survives power loss). With `durableAt: 'commit'` LMDB never fsyncs (`noSync`) and it
 *   fires at the commit: the data is in the OS page cache, so it survives a crash of the process but not of
 *   the machine, which may also leave the file unreadable. The course facade uses this: the course's store
 *   promises survival of a node restart, which its file writes give without fsync; a sequential put is
 *   ~10x faster here (~40 µs vs ~380 µs: with overlapping sync, each commit still waits for the last flush).
 * - Atomicity: a batch is one `db.batch`, so one transaction; a batch that fails validation or commit
 *   reports a coded error and none of it is applied (its overlay entries are removed).
 * - Order: keys are stored as UTF-16BE bytes, so LMDB's byte order is exactly JavaScript's code-unit
 *   string order (what the Env promises and what the overlay merge compares with). They are written
 *   straight into lmdb's own key buffer (a key encoder), not into a Buffer of ours that lmdb then copies.
 * - Cost: the batches handed to `write` in one run of synchronous code (one event and its microtasks)
 *   go to LMDB as one `db.batch` at the end of it, and wait for one commit promise: LMDB would commit
 *   them in one transaction anyway (it batches per event turn), but a `db.batch` and its promises per
 *   write cost more than the commit on the main thread. Each batch keeps its own validation, version and
 *   overlay entries; a failed commit fails every batch in it, which lmdb's shared transaction did already.
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

/** One op of a pending batch, and the version of its key that reads see until the batch is committed;
 * `below` is the version it shadows (a stack per key, newest on top). */
interface Pending {
  readonly key: string;
  readonly version: number;
  readonly value: Buffer | undefined;
  below: Pending | undefined;
}

/** A validated batch waiting for the end of the current run of synchronous code. */
interface QueuedWrite {
  readonly version: number;
  readonly ops: readonly Pending[];
  readonly onDurable: (result: DiskWriteResult) => void;
  /** Whether its ops are in the overlay (and must leave it when settled). */
  indexed: boolean;
}

export class LmdbDisk implements Disk {
  private readonly db: RootDatabase<Buffer, Buffer>;
  private readonly overlay = new Map<string, Pending>();
  private queued: QueuedWrite[] = [];
  /** Every queued write is in the overlay: a read since the queue began; later writes enter it at once. */
  private queuedIndexed = false;
  /** The bytes a `read` visitor is looking at, while it runs, when they live in lmdb's reusable buffer. */
  private visited: Uint8Array | undefined;
  private versionNext = 1;
  private closed = false;
  private readonly durableAt: DurableAt;
  /** Async commits handed to lmdb and not yet settled. */
  private commitsInFlight = 0;

  constructor(path: string, options: LmdbDiskOptions = {}) {
    assert(typeof path === 'string' && path.length > 0, 'LmdbDisk: path required');
    this.durableAt = options.durableAt ?? 'flush';
    assert(this.durableAt === 'flush' || this.durableAt === 'commit', 'LmdbDisk: durableAt is flush or commit');
    this.db = openLmdb()<Buffer, Buffer>({ path, encoding: 'binary', keyEncoder, compression: false, noSync: this.durableAt === 'commit' } as never);
  }

  get(key: string): Uint8Array | undefined {
    assert(typeof key === 'string', 'disk.get: key must be a string');
    this.indexQueued();
    // Most reads happen with nothing pending: skip hashing the key for the overlay then.
    if (this.overlay.size !== 0) {
      const pending = this.overlay.get(key);
      if (pending !== undefined) return copyOrUndefined(pending.value);
    }
    if (this.visited !== undefined) return this.keepingVisited(() => copyOrUndefined(this.fetch(key)));
    return copyOrUndefined(this.fetch(key));
  }

  /** `get` without the copy: the visitor decodes straight from lmdb's read buffer (or the overlay). */
  read<T>(key: string, visit: (bytes: Uint8Array) => T): T | undefined {
    assert(typeof key === 'string', 'disk.read: key must be a string');
    assert(typeof visit === 'function', 'disk.read: visit must be a function');
    this.indexQueued();
    if (this.overlay.size !== 0) {
      const pending = this.overlay.get(key);
      if (pending !== undefined) return pending.value === undefined ? undefined : visit(pending.value);
    }
    if (this.visited !== undefined) {
      const copy = this.get(key); // a read inside a visitor: lmdb's buffer holds the outer one's bytes
      return copy === undefined ? undefined : visit(copy);
    }
    const bytes = this.fetch(key);
    if (bytes === undefined) return undefined;
    this.visited = bytes;
    try {
      return visit(bytes);
    } finally {
      this.visited = undefined;
    }
  }

  scan(range: DiskRange): Iterable<[string, Uint8Array]> {
    checkRange(range);
    this.indexQueued();
    if (this.visited !== undefined) return this.keepingVisited(() => this.merged(range));
    return this.merged(range);
  }

  /** The committed value as lmdb's view: valid until the next lmdb read, so copied or visited at once. */
  private fetch(key: string): Uint8Array | undefined {
    if (byteLengthOfKey(key) > diskKeyBytesMax) return undefined; // could never have been written
    // lmdb's own binary get copies into a fresh typed array, which V8 allocates off-heap above 64 bytes
    // (about 0.8 µs each); its reusable buffer is read in place instead.
    const view = this.db.getBinaryFast(key as never) as (Buffer & { isGlobal?: boolean }) | undefined;
    if (view === undefined) return undefined;
    const length = view.isGlobal === true ? (this.db as unknown as { lastSize: number }).lastSize : view.length;
    return new Uint8Array(view.buffer, view.byteOffset, length);
  }

  /** Runs an lmdb read while a visitor looks at lmdb's reusable buffer, and puts its bytes back after. */
  private keepingVisited<T>(run: () => T): T {
    const visited = this.visited!;
    const saved = copyBytes(visited);
    try {
      return run();
    } finally {
      visited.set(saved);
    }
  }

  private merged(range: DiskRange): [string, Uint8Array][] {
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
        const value = this.overlay.get(pendingKey)!.value;
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
    // Copy values now (unless frozen): the caller may reuse its buffers as soon as write returns. The copy
    // is what the overlay shows and what lmdb reads at commit; nobody writes to it.
    const ops = new Array<Pending>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i]!;
      const { key, value } = op;
      // Allocating the copy costs more than the rest of `write` (~0.6 µs of a ~4.5 µs put): skipped when
      // the caller vouches for its bytes.
      const kept = value === undefined ? undefined : op.frozen === true ? value : copyBytes(value);
      ops[i] = { key, version, value: kept, below: undefined };
    }
    const write: QueuedWrite = { version, ops, onDurable, indexed: false };
    if (this.queuedIndexed) this.index(write);
    this.queued.push(write);
    if (this.queued.length === 1) queueMicrotask(this.commitQueued);
  }

  /** Puts the queued writes not yet in the overlay there, oldest first (each stacks on what it shadows). */
  private indexQueued(): void {
    if (this.queuedIndexed || this.queued.length === 0) return;
    for (const write of this.queued) if (!write.indexed) this.index(write);
    this.queuedIndexed = true;
  }

  private index(write: QueuedWrite): void {
    for (const pending of write.ops) {
      pending.below = this.overlay.get(pending.key);
      this.overlay.set(pending.key, pending);
    }
    write.indexed = true;
  }

  /** Hands every queued batch to lmdb as one transaction; settles them all when it is durable. */
  private readonly commitQueued = (): void => {
    const writes = this.queued;
    if (writes.length === 0) return; // close() handed them over already
    this.queued = [];
    this.queuedIndexed = false;
    if (this.commitsOnThisThread(writes)) return this.commitNow(writes);
    // Reads in later turns find these in the overlay until lmdb's writer thread has committed them.
    for (const write of writes) if (!write.indexed) this.index(write);
    let committed: Promise<unknown>;
    try {
      committed = this.db.batch(() => this.apply(writes));
    } catch (cause) {
      // Cannot happen for validated ops; reported rather than thrown from a microtask.
      committed = Promise.reject(cause);
    }
    this.commitsInFlight++;
    const durable = this.durableAt === 'flush' ? committed.then(() => this.db.flushed) : committed; // flushed is immediate under noSync
    durable.then(
      () => {
        this.commitsInFlight--;
        this.settle(writes, () => durableOk);
      },
      (cause: unknown) => {
        this.commitsInFlight--;
        this.settle(writes, () => commitFailed(cause));
      },
    );
  };

  /**
   * Without fsync, a commit on this thread beats a hand-off to lmdb's writer thread and back: a lone put
   * commits in ~6-10 µs instead of ~70 µs (two thread wake-ups), and 50 puts in flight run at ~400k/s
   * instead of ~210k/s (no promise per batch, no thread hop). The price is the event loop held for the
   * whole commit (~1.4 µs an op against ~0.35 µs to hand it over), hence `syncCommitOpsMax`. Larger
   * batches, and any write while an async commit is in flight (a sync commit would overtake it), go to the
   * writer thread, in order.
   */
  private commitsOnThisThread(writes: readonly QueuedWrite[]): boolean {
    if (this.durableAt !== 'commit' || this.commitsInFlight !== 0 || this.closed) return false;
    let ops = 0;
    for (const write of writes) ops += write.ops.length;
    return ops <= syncCommitOpsMax;
  }

  private commitNow(writes: readonly QueuedWrite[]): void {
    let failure: unknown;
    try {
      this.db.transactionSync(() => this.apply(writes, true));
    } catch (cause) {
      failure = cause ?? new Error('transaction failed');
    }
    this.settle(writes, failure === undefined ? () => durableOk : () => commitFailed(failure));
  }

  /** The writes' puts and removes: synchronous calls inside `transactionSync`, or queued for `db.batch`. */
  private apply(writes: readonly QueuedWrite[], sync = false): void {
    const db = this.db;
    for (const write of writes) {
      for (const { key, value } of write.ops) {
        if (value === undefined) void (sync ? db.removeSync(key as never) : db.remove(key as never));
        else void (sync ? db.putSync(key as never, value) : db.put(key as never, value));
      }
    }
  }

  /** Uncovers each write's overlay entries and answers it; a callback that throws does not starve the rest. */
  private settle(writes: readonly QueuedWrite[], result: () => DiskWriteResult): void {
    let failure: { error: unknown } | undefined;
    for (const write of writes) {
      if (write.indexed) this.popPending(write);
      try {
        write.onDurable(result());
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error; // as before: an unhandled rejection
  }

  /** Commits handed to lmdb's writer thread and not yet settled (for tests and stats). */
  get asyncCommitsInFlight(): number {
    return this.commitsInFlight;
  }

  /** Number of keys with uncommitted writes (for tests and stats). */
  get pendingKeyCount(): number {
    this.indexQueued();
    return this.overlay.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.commitQueued();
    await this.db.committed;
    await this.db.close();
  }

  /** Removes the write's versions from its keys' stacks (usually the bottom, as commits come in order). */
  private popPending(write: QueuedWrite): void {
    for (const op of write.ops) {
      let top = this.overlay.get(op.key);
      while (top !== undefined && top.version === write.version) top = top.below;
      if (top === undefined) {
        this.overlay.delete(op.key);
        continue;
      }
      this.overlay.set(op.key, top);
      for (let above = top; above.below !== undefined;) {
        if (above.below.version === write.version) above.below = above.below.below;
        else above = above.below;
      }
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
    // A bound longer than any storable key is left to the checks below (lmdb's key buffer would not hold it).
    const start = boundOrUndefined(range.start);
    const end = boundOrUndefined(range.end);
    const options = range.reverse === true
      ? { start: end, end: start, reverse: true, exclusiveStart: true, inclusiveEnd: true }
      : { start, end };
    for (const { key, value } of this.db.getRange(options as never)) {
      const text = key as unknown as string;
      // Belt and braces over lmdb's bound flags: the Env's range is [start, end).
      if (!inRange(text, range)) {
        if (range.reverse === true ? range.start !== undefined && text < range.start : range.end !== undefined && text >= range.end) return;
        continue;
      }
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

/**
 * Ops in one run's batches that may commit on the calling thread (durableAt 'commit' only): 256 five-property
 * puts hold the loop ~0.35 ms (docs/runtime.md), about what one cross-process call takes.
 */
export const syncCommitOpsMax = 256;

function commitFailed(cause: unknown): DiskWriteResult {
  return {
    ok: false,
    error: new DistError('E_DISK_WRITE', `lmdb commit failed: ${(cause as Error)?.message ?? String(cause)}`, undefined, { cause }),
  };
}

/** Every successful write's result: one shared, frozen object rather than one per write. */
const durableOk: DiskWriteResult = Object.freeze({ ok: true });

/** The first byte of every key: LMDB refuses an empty key and the Env allows one. */
const keyTag = 0x6b; // 'k'

/**
 * Keys as UTF-16BE behind `keyTag`, so byte order equals code-unit order. lmdb calls these with its own
 * key buffer: no Buffer of ours per key, no copy. Callers check the length first (validateBatch, get).
 */
const keyEncoder = {
  writeKey(key: string, target: Uint8Array, start: number): number {
    const length = key.length;
    target[start] = keyTag;
    // Plain byte stores: about twice as fast as writeUInt16BE per unit, and every get pays for this.
    for (let i = 0, at = start + 1; i < length; i++, at += 2) {
      const unit = key.charCodeAt(i);
      target[at] = unit >>> 8;
      target[at + 1] = unit & 0xff;
    }
    return start + 1 + length * 2;
  },
  readKey(bytes: Uint8Array, start: number, end: number): string {
    assert((end - start) % 2 === 1 && bytes[start] === keyTag, 'disk: foreign key in lmdb');
    const units = new Array<number>((end - start - 1) / 2);
    for (let i = 0, at = start + 1; i < units.length; i++, at += 2) units[i] = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
    return String.fromCharCode(...units);
  },
};

function boundOrUndefined(key: string | undefined): string | undefined {
  return key === undefined || byteLengthOfKey(key) > diskKeyBytesMax ? undefined : key;
}

function copyOrUndefined(value: Uint8Array | undefined): Uint8Array | undefined {
  return value === undefined ? undefined : copyBytes(value);
}

/** A copy in Node's pooled slab (small values share 8 KiB chunks; no off-heap allocation each). */
function copyBytes(source: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(source.length);
  copy.set(source);
  return copy;
}
