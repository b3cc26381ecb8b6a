/**
 * The simulator's one event queue: a binary min-heap ordered by (time, sequence). The sequence number
 * is assigned at push, so two events due at the same virtual millisecond always run in the order they
 * were scheduled, the same way every run.
 */
import { assert } from '../lib/assert.js';

export interface Scheduled {
  /** Virtual milliseconds at which the event is due. */
  time: number;
  /** Tie breaker, assigned by the queue. */
  seq: number;
}

/** A run that queues this many events at once is flooding itself; stop it rather than eat the heap. */
export const queueEventsMax = 50_000_000;

export class EventQueue<E extends Scheduled> {
  private readonly items: E[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  /** Sequence numbers handed out so far (also the number of pushes). */
  get pushed(): number {
    return this.nextSeq;
  }

  push(event: E): void {
    assert(event.time >= 0 && Number.isFinite(event.time), `event time out of range: ${event.time}`);
    assert(this.items.length < queueEventsMax, 'event queue overflow');
    event.seq = this.nextSeq++;
    const items = this.items;
    let i = items.length;
    items.push(event);
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as E;
      if (p.time < event.time || (p.time === event.time && p.seq < event.seq)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = event;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  pop(): E | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop() as E;
    const n = items.length;
    if (n === 0) return top;
    // Sift the last element down from the root.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let c = items[left] as E;
      if (right < n) {
        const r = items[right] as E;
        if (r.time < c.time || (r.time === c.time && r.seq < c.seq)) {
          child = right;
          c = r;
        }
      }
      if (last.time < c.time || (last.time === c.time && last.seq < c.seq)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
