/**
 * The pure core of the node runtime: the caller's table of calls in flight and the callee's memory of
 * recent calls. No Env: node.ts owns the timers and the sends and asks these tables what to do.
 *
 * Invariants:
 * - a call is answered at most once: `settle` removes it from the table, so a second reply, a reply
 *   racing a timeout, or a duplicated reply finds nothing and is counted as unknown;
 * - a callee runs a call at most once while it remembers it: a duplicate (the network duplicates, the
 *   caller retries idempotent calls with the same id) either finds it running (dropped: the reply will
 *   come) or finished (the cached reply is sent again); node.ts does not ask about calls to methods
 *   declared idempotent, which may run again;
 * - both tables are bounded (`inFlightMax`, `recentMax`).
 */
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

export interface PendingCall<C> {
  readonly seq: number;
  readonly to: NodeId;
  /** The encoded call, kept for retries (same epoch and seq, so the callee can tell it is a retry). */
  readonly payload: Uint8Array;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  attempts: number;
  /** When the current attempt times out (env clock). */
  deadlineMs: number;
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
    // A constant message: this runs on every call, and a template would build a string each time.
    assert(!this.pending.has(call.seq), 'call opened twice');
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

  /** Calls whose deadline is at or before `nowMs`, oldest first. */
  due(nowMs: number): PendingCall<C>[] {
    const due: PendingCall<C>[] = [];
    for (const call of this.pending.values()) if (call.deadlineMs <= nowMs) due.push(call);
    return due;
  }

  /** The earliest deadline of a call in flight (Infinity when none). */
  earliestDeadline(): number {
    let earliest = Infinity;
    for (const call of this.pending.values()) if (call.deadlineMs < earliest) earliest = call.deadlineMs;
    return earliest;
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

/** One caller incarnation's remembered calls, by seq: null while running, then the reply. */
interface CallerCalls {
  readonly key: string;
  readonly calls: Map<number, Uint8Array | null>;
}

/**
 * Calls this node ran recently, by caller, epoch and seq; the oldest are forgotten first. Calls are kept
 * per caller incarnation (`from`, `epoch`) and by seq inside it, so a lookup builds no string key; the
 * incarnation last seen is remembered, since calls mostly come in runs from the same caller.
 */
export class RecentCalls {
  private readonly callers = new Map<string, CallerCalls>();
  /** Insertion order, as a ring of (table, seq). */
  private readonly ringTables: (CallerCalls | undefined)[];
  private readonly ringSeqs: number[];
  private head = 0;
  private count = 0;
  private lastFrom: NodeId | undefined;
  private lastEpoch = -1;
  private lastTable: CallerCalls | undefined;

  constructor(readonly recentMax: number) {
    assert(Number.isInteger(recentMax) && recentMax > 0, 'recentMax is a positive integer');
    this.ringTables = new Array<CallerCalls | undefined>(recentMax).fill(undefined);
    this.ringSeqs = new Array<number>(recentMax).fill(0);
  }

  get size(): number {
    return this.count;
  }

  private table(from: NodeId, epoch: number, create: boolean): CallerCalls | undefined {
    if (from === this.lastFrom && epoch === this.lastEpoch && this.lastTable !== undefined) return this.lastTable;
    const key = `${from}|${epoch}`;
    let table = this.callers.get(key);
    if (table === undefined) {
      if (!create) return undefined;
      table = { key, calls: new Map() };
      this.callers.set(key, table);
    }
    this.lastFrom = from;
    this.lastEpoch = epoch;
    this.lastTable = table;
    return table;
  }

  /** What to do with an arriving call: run it (`new`, and it is now remembered as running), drop it
   * (`running`), or resend the reply (`done`). */
  begin(from: NodeId, epoch: number, seq: number): RecentState {
    const entry = this.table(from, epoch, false)?.calls.get(seq);
    if (entry === null) return runningState;
    if (entry !== undefined) return { kind: 'done', reply: entry };
    // Evict before finding the table: evicting may drop this caller's (then empty) table.
    this.evictOldest();
    const table = this.table(from, epoch, true) as CallerCalls;
    table.calls.set(seq, null);
    this.ringTables[this.head] = table;
    this.ringSeqs[this.head] = seq;
    this.head = (this.head + 1) % this.recentMax;
    this.count++;
    return newState;
  }

  /** Records the reply of a call that `begin` let run (a forgotten one is not brought back). */
  finish(from: NodeId, epoch: number, seq: number, reply: Uint8Array): void {
    const table = this.table(from, epoch, false);
    if (table !== undefined && table.calls.get(seq) === null) table.calls.set(seq, reply);
  }

  /** Makes room in the ring slot at `head` by forgetting the call in it, if any. */
  private evictOldest(): void {
    const table = this.ringTables[this.head];
    if (table === undefined) return;
    table.calls.delete(this.ringSeqs[this.head] as number);
    this.count--;
    if (table.calls.size === 0) {
      this.callers.delete(table.key);
      if (this.lastTable === table) {
        this.lastTable = undefined;
        this.lastFrom = undefined;
      }
    }
    this.ringTables[this.head] = undefined;
  }
}
