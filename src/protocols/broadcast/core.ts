/**
 * The pure core of broadcast: which values this node knows, which are durable, which are still being
 * written, and which each peer has not yet acknowledged. No Env, no I/O: the node (node.ts) turns
 * messages and timers into calls here and the results into sends and disk writes.
 *
 * Invariant: a value is owed to a peer until that peer acknowledges it with gossip_ok, which a peer only
 * sends once the value is durable there. Receiving a value *from* a peer is not an acknowledgement (the
 * peer may not have it on disk yet and could lose it in a crash), so it is owed back to the sender too.
 */
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

/** What `inspect()` exposes to checkers: read-only. */
export interface BroadcastView {
  /** Values in the order this incarnation learned them; append-only (checkers scan the new tail). */
  readonly order: readonly number[];
  readonly size: number;
  has(value: number): boolean;
  isDurable(value: number): boolean;
}

export class BroadcastCore implements BroadcastView {
  readonly order: number[] = [];
  private readonly known = new Set<number>();
  private readonly durable = new Set<number>();
  /** Known, not durable and no write in flight: the node should (re)write these. */
  private readonly unwritten = new Set<number>();
  private readonly writing = new Set<number>();
  /** Per peer, values it has not acknowledged, in the order learned (Set keeps insertion order). */
  private readonly owedTo = new Map<NodeId, Set<number>>();

  constructor(readonly peers: readonly NodeId[]) {
    assert(new Set(peers).size === peers.length, 'peers must be distinct');
    for (const peer of peers) this.owedTo.set(peer, new Set());
  }

  get size(): number {
    return this.known.size;
  }

  has(value: number): boolean {
    return this.known.has(value);
  }

  isDurable(value: number): boolean {
    return this.durable.has(value);
  }

  /** Learns `value`; returns true when it is new. A new value is owed to every peer and needs a write. */
  learn(value: number): boolean {
    assert(Number.isSafeInteger(value), `broadcast values are safe integers: ${value}`);
    if (this.known.has(value)) return false;
    this.known.add(value);
    this.order.push(value);
    this.unwritten.add(value);
    for (const owed of this.owedTo.values()) owed.add(value);
    return true;
  }

  /** A value read back from disk at boot: known, durable, and owed to every peer (we no longer know
   * who acknowledged it before the crash). */
  restore(value: number): void {
    assert(!this.known.has(value), `value restored twice: ${value}`);
    this.known.add(value);
    this.order.push(value);
    this.durable.add(value);
    for (const owed of this.owedTo.values()) owed.add(value);
  }

  /** Values needing a disk write, moved to "writing". At most `max`, oldest first. */
  takeUnwritten(max: number): number[] {
    const taken: number[] = [];
    for (const value of this.unwritten) {
      if (taken.length >= max) break;
      taken.push(value);
    }
    for (const value of taken) {
      this.unwritten.delete(value);
      this.writing.add(value);
    }
    return taken;
  }

  /** A write finished: durable on success, back to "unwritten" on failure. */
  written(values: readonly number[], ok: boolean): void {
    for (const value of values) {
      assert(this.writing.has(value), `write finished for a value not being written: ${value}`);
      this.writing.delete(value);
      if (ok) this.durable.add(value);
      else this.unwritten.add(value);
    }
  }

  get unwrittenCount(): number {
    return this.unwritten.size;
  }

  /** The peer has these values durably; stop sending them. Unknown peers are ignored. */
  acknowledged(peer: NodeId, values: readonly number[]): void {
    const owed = this.owedTo.get(peer);
    if (owed === undefined) return;
    for (const value of values) owed.delete(value);
  }

  /** Up to `max` values owed to `peer`, oldest first. */
  owed(peer: NodeId, max: number): number[] {
    const result: number[] = [];
    const owed = this.owedTo.get(peer);
    if (owed === undefined) return result;
    for (const value of owed) {
      if (result.length >= max) break;
      result.push(value);
    }
    return result;
  }

  /** Of `values`, the ones durable here (safe to acknowledge to a peer). */
  durableOf(values: readonly number[]): number[] {
    return values.filter((v) => this.durable.has(v));
  }

  /** All known values, sorted, for read replies (order-independent, so replies are deterministic). */
  sorted(): number[] {
    return [...this.known].sort((a, b) => a - b);
  }
}
