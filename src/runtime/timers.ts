import type { Millis, TimerId, Timers } from '../env/index.js';
import { assert } from '../lib/assert.js';

/** Real timers with numeric ids, so `cancel` works on a plain number and `cancelAll` can stop a node. */
export class RealTimers implements Timers {
  private readonly pending = new Map<TimerId, NodeJS.Timeout>();
  private idNext: TimerId = 1;
  private closed = false;

  set(delayMs: Millis, onFire: () => void): TimerId {
    assert(Number.isFinite(delayMs) && delayMs >= 0, `timers.set: delayMs must be finite and >= 0, got ${delayMs}`);
    assert(typeof onFire === 'function', 'timers.set: onFire must be a function');
    const id = this.idNext++;
    if (this.closed) return id; // a stopped node schedules nothing
    const handle = setTimeout(() => {
      this.pending.delete(id);
      onFire();
    }, delayMs);
    this.pending.set(id, handle);
    return id;
  }

  cancel(id: TimerId): void {
    const handle = this.pending.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.pending.delete(id);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops every timer: a stopped node's timers die with it. */
  close(): void {
    this.closed = true;
    for (const handle of this.pending.values()) clearTimeout(handle);
    this.pending.clear();
  }
}
