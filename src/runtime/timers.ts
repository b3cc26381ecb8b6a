import type { Millis, TimerId, Timers } from '../env/index.js';
import { assert } from '../lib/assert.js';

type Handle = { readonly immediate: NodeJS.Immediate } | { readonly timeout: NodeJS.Timeout };

function clearHandle(handle: Handle): void {
  if ('immediate' in handle) clearImmediate(handle.immediate);
  else clearTimeout(handle.timeout);
}

/**
 * Real timers with numeric ids, so `cancel` works on a plain number and `cancelAll` can stop a node.
 * A zero delay runs on the next turn of the event loop (`setImmediate`): Node's `setTimeout(fn, 0)` waits
 * at least 1 ms, which a protocol yielding between chunks of work (MapReduce's map queue) pays every time.
 */
export class RealTimers implements Timers {
  private readonly pending = new Map<TimerId, Handle>();
  private idNext: TimerId = 1;
  private closed = false;

  set(delayMs: Millis, onFire: () => void): TimerId {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `timers.set: delayMs must be finite and >= 0, got ${delayMs}`);
    assert(typeof onFire === 'function', 'timers.set: onFire must be a function');
    const id = this.idNext++;
    if (this.closed) return id; // a stopped node schedules nothing
    const fire = (): void => {
      this.pending.delete(id);
      onFire();
    };
    this.pending.set(id, delayMs === 0 ? { immediate: setImmediate(fire) } : { timeout: setTimeout(fire, delayMs) });
    return id;
  }

  cancel(id: TimerId): void {
    const handle = this.pending.get(id);
    if (handle === undefined) return;
    clearHandle(handle);
    this.pending.delete(id);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops every timer: a stopped node's timers die with it. */
  close(): void {
    this.closed = true;
    for (const handle of this.pending.values()) clearHandle(handle);
    this.pending.clear();
  }
}
