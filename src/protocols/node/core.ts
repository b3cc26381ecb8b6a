/**
 * The pure core of the node runtime: the caller's table of calls in flight and the callee's memory of
 * recent calls. No Env: node.ts owns the timers and the sends and asks these tables what to do.
 *
 * Invariants:
 * - a call is answered at most once: `settle` removes it from the table, so a second reply, a reply
 *   racing a timeout, or a duplicated reply finds nothing and is counted as unknown;
 * - a callee runs a call at most once while it remembers it: a duplicate (the network duplicates, the
 *   caller retries idempotent calls with the same id) either finds it running (dropped: the reply will
 *   come) or finished (the cached reply is sent again);
 * - both tables are bounded (`inFlightMax`, `recentMax`).
 */
import type { NodeId, TimerId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

export interface PendingCall<C> {
  readonly seq: number;
  readonly to: NodeId;
  /** The encoded call, kept for retries (same epoch and seq, so the callee can tell it is a retry). */
  readonly payload: Uint8Array;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  attempts: number;
  timer: TimerId;
  readonly callback: C;
}

export class CallTable<C> {
  private nextSeq = 1;
  private readonly pending = new Map<number, PendingCall<C>>();

  constructor(
    readonly epoch: number,
    readonly inFlightMax: number,
  ) {
    assert(Number.isSafeInteger(epoch) && epoch >= 0, 'epoch is a non-negative integer');
    assert(Number.isInteger(inFlightMax) && inFlightMax > 0, 'inFlightMax is a positive integer');
  }

  get size(): number {
    return this.pending.size;
  }

  get full(): boolean {
    return this.pending.size >= this.inFlightMax;
  }

  /** A fresh sequence number for a call about to be opened. */
  reserve(): number {
    assert(!this.full, 'reserve on a full call table');
    // seq is a u32 on the wire; four billion calls in one incarnation would wrap it.
    assert(this.nextSeq <= 0xffff_ffff, 'call sequence numbers exhausted');
    return this.nextSeq++;
  }

  open(call: PendingCall<C>): void {
    assert(!this.pending.has(call.seq), `call ${call.seq} opened twice`);
    assert(!this.full, 'open on a full call table');
    this.pending.set(call.seq, call);
  }

  get(seq: number): PendingCall<C> | undefined {
    return this.pending.get(seq);
  }

  /** Removes and returns the call, or undefined when it is unknown or already settled. */
  settle(epoch: number, seq: number): PendingCall<C> | undefined {
    if (epoch !== this.epoch) return undefined;
    const call = this.pending.get(seq);
    if (call !== undefined) this.pending.delete(seq);
    return call;
  }

  /** Calls waiting on `peer`, oldest first. */
  toPeer(peer: NodeId): PendingCall<C>[] {
    return [...this.pending.values()].filter((call) => call.to === peer);
  }

  all(): PendingCall<C>[] {
    return [...this.pending.values()];
  }
}

/**
 * A map that keeps at most `capacity` entries and forgets the oldest insertion first. The insertion order
 * lives in a ring of keys: evicting through `Map#keys().next()` instead would walk the deleted entries V8
 * keeps at the front of a Map until it rehashes, which made eviction the hottest line of a call.
 */
export class FifoMap<K, V> {
  private readonly map = new Map<K, V>();
  private readonly ring: (K | undefined)[];
  private head = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, 'capacity is a positive integer');
    this.ring = new Array<K | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Updates a present key in place (keeping its age); a new key may evict the oldest. */
  set(key: K, value: V): void {
    if (this.map.has(key)) {
      this.map.set(key, value);
      return;
    }
    const evicted = this.ring[this.head];
    if (evicted !== undefined) this.map.delete(evicted);
    this.ring[this.head] = key;
    this.head = (this.head + 1) % this.capacity;
    this.map.set(key, value);
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }
}

export type RecentState = { readonly kind: 'new' } | { readonly kind: 'running' } | { readonly kind: 'done'; readonly reply: Uint8Array };

const newState: RecentState = { kind: 'new' };
const runningState: RecentState = { kind: 'running' };

/** Calls this node ran recently, by caller, epoch and seq; the oldest are forgotten first. */
export class RecentCalls {
  private readonly entries: FifoMap<string, Uint8Array | null>;

  constructor(readonly recentMax: number) {
    assert(Number.isInteger(recentMax) && recentMax > 0, 'recentMax is a positive integer');
    this.entries = new FifoMap(recentMax);
  }

  static key(from: NodeId, epoch: number, seq: number): string {
    return `${from}|${epoch}|${seq}`;
  }

  get size(): number {
    return this.entries.size;
  }

  /** What to do with an arriving call: run it (`new`, and it is now remembered as running), drop it
   * (`running`), or resend the reply (`done`). */
  begin(key: string): RecentState {
    const entry = this.entries.get(key);
    if (entry === null) return runningState;
    if (entry !== undefined) return { kind: 'done', reply: entry };
    this.entries.set(key, null);
    return newState;
  }

  /** Records the reply of a call that `begin` let run (a forgotten one is not brought back). */
  finish(key: string, reply: Uint8Array): void {
    if (this.entries.get(key) === null) this.entries.set(key, reply);
  }
}
