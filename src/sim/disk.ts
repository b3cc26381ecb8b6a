/**
 * A simulated per-node disk. Two layers: `durable` (what survives a crash) and `visible` (durable plus
 * every batch written and not yet failed, which reads see at once). Batches become durable strictly in
 * the order they were written (FIFO, like one write-ahead log), so a crash loses a suffix of the
 * pending batches, never a hole in the middle. The simulator decides when each batch lands and
 * whether it fails; this class only keeps the two layers consistent.
 */
import type { DiskOp, DiskRange } from '../env/index.js';
import { assert } from '../lib/assert.js';

/** Pending batches per node; a node that writes faster than the disk drains is a bug, not a load. */
export const diskPendingBatchesMax = 100_000;
/** Keys longer than this are refused; they would be a protocol bug (keys are ids, not data). */
export const diskKeyCharsMax = 4096;

/** What a `read` visitor's bytes turn into after it returns. */
const wipedByte = 0xee;

export interface PendingBatch {
  readonly ops: readonly DiskOp[];
  readonly fails: boolean;
}

export class SimDisk {
  private readonly durable = new Map<string, Uint8Array>();
  private readonly visible = new Map<string, Uint8Array>();
  private readonly pending: PendingBatch[] = [];
  /** Sorted visible keys, rebuilt lazily after a change to the key set. */
  private sortedKeys: string[] | undefined;
  /** Virtual ms at which the last pending batch lands; later batches land no earlier (FIFO). */
  lastLandingMs = 0;

  get pendingCount(): number {
    return this.pending.length;
  }

  get keyCount(): number {
    return this.visible.size;
  }

  get(key: string): Uint8Array | undefined {
    const value = this.visible.get(key);
    // Copy out so a node mutating what it read cannot reach into the disk.
    return value === undefined ? undefined : value.slice();
  }

  /** A copy, as `get` gives, wiped once `visit` returns: a visitor that keeps the bytes sees garbage here
   * rather than a value that happens to survive, as it might on lmdb. */
  read<T>(key: string, visit: (bytes: Uint8Array) => T): T | undefined {
    const value = this.visible.get(key);
    if (value === undefined) return undefined;
    const copy = value.slice();
    try {
      return visit(copy);
    } finally {
      copy.fill(wipedByte);
    }
  }

  *scan(range: DiskRange): Iterable<[string, Uint8Array]> {
    const keys = this.keysInOrder();
    const limit = range.limit ?? Number.MAX_SAFE_INTEGER;
    assert(limit >= 0, 'scan limit must be >= 0');
    let yielded = 0;
    const inRange = (k: string): boolean => (range.start === undefined || k >= range.start) && (range.end === undefined || k < range.end);
    if (range.reverse === true) {
      for (let i = keys.length - 1; i >= 0 && yielded < limit; i--) {
        const k = keys[i] as string;
        if (!inRange(k)) continue;
        yielded++;
        yield [k, (this.visible.get(k) as Uint8Array).slice()];
      }
      return;
    }
    for (let i = 0; i < keys.length && yielded < limit; i++) {
      const k = keys[i] as string;
      if (!inRange(k)) continue;
      yielded++;
      yield [k, (this.visible.get(k) as Uint8Array).slice()];
    }
  }

  private keysInOrder(): string[] {
    if (this.sortedKeys === undefined) {
      // Code-unit order, as the Env promises (and as LMDB orders string keys).
      this.sortedKeys = [...this.visible.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return this.sortedKeys;
  }

  /** Applies `ops` to the visible layer and queues them to land. Returns the queued batch. */
  begin(ops: readonly DiskOp[], fails: boolean): PendingBatch {
    assert(this.pending.length < diskPendingBatchesMax, 'too many pending disk batches');
    const copied: DiskOp[] = ops.map((op) => {
      assert(typeof op.key === 'string' && op.key.length <= diskKeyCharsMax, 'disk key must be a string of bounded length');
      return op.value === undefined ? { key: op.key, value: undefined } : { key: op.key, value: op.value.slice() };
    });
    const batch: PendingBatch = { ops: copied, fails };
    this.pending.push(batch);
    for (const op of copied) this.setVisible(op.key, op.value);
    return batch;
  }

  /** The oldest pending batch lands: on success it becomes durable; on failure it is undone. */
  land(batch: PendingBatch): void {
    assert(this.pending[0] === batch, 'disk batches must land in FIFO order');
    this.pending.shift();
    if (!batch.fails) {
      for (const op of batch.ops) {
        if (op.value === undefined) this.durable.delete(op.key);
        else this.durable.set(op.key, op.value);
      }
      return;
    }
    for (const op of batch.ops) this.setVisible(op.key, this.recompute(op.key));
  }

  /** The value a key has given durable data and the batches still pending. */
  private recompute(key: string): Uint8Array | undefined {
    let value = this.durable.get(key);
    for (const batch of this.pending) {
      for (const op of batch.ops) if (op.key === key) value = op.value;
    }
    return value;
  }

  private setVisible(key: string, value: Uint8Array | undefined): void {
    const had = this.visible.has(key);
    if (value === undefined) this.visible.delete(key);
    else this.visible.set(key, value);
    if (had !== (value !== undefined)) this.sortedKeys = undefined;
  }

  /** A crash: every pending batch is lost; reads fall back to durable data. Returns batches lost. */
  crash(): number {
    const lost = this.pending.length;
    this.pending.length = 0;
    this.visible.clear();
    for (const [k, v] of this.durable) this.visible.set(k, v);
    this.sortedKeys = undefined;
    return lost;
  }

  /** A clean stop: pending batches are flushed (their callbacks are not called: the node is gone). */
  flush(): void {
    for (const batch of this.pending.splice(0)) {
      if (batch.fails) continue;
      for (const op of batch.ops) {
        if (op.value === undefined) this.durable.delete(op.key);
        else this.durable.set(op.key, op.value);
      }
    }
    this.crash();
  }
}
