/**
 * The pure core of SWIM membership (Das, Gupta, Motivala, DSN 2002): the membership table and its merge
 * rules, the retransmit queue of infection-style dissemination, and the round-robin probe schedule.
 * No Env: time comes in as `nowMs` arguments and randomness as a `drawIndex` function, so every rule
 * here is a plain function of its inputs (the node, node.ts, does the I/O).
 *
 * Merge rule (SWIM §4.2, with the `left` state of graceful leave added): a record about member m is a
 * pair (incarnation, state) and records are totally ordered, incarnation first, then state by
 * alive < suspect < dead < left. A table keeps, per member, the largest record it has seen. Merging is
 * therefore a pointwise maximum: commutative, associative and idempotent, so any two nodes that have
 * seen the same records hold the same table, whatever the order and duplication of delivery.
 *
 * Only m itself creates records with a new incarnation: when m hears that it is suspected or dead at
 * its current incarnation i, it refutes with alive at i + 1 (SWIM §4.2). Others only create
 * suspect/dead at an incarnation they already know, and those lose to m's refutation.
 */
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';
export const memberStates: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/** One gossiped fact: "member `id` is `state` at `incarnation`". A suspect record also names the node
 * that suspected (its `accuser`): independent accusers of one suspicion are what shortens its timeout
 * (Lifeguard). The accuser is metadata: it takes no part in the merge order. */
export interface MemberRecord {
  readonly id: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly accuser?: NodeId;
}

/** A table has at most this many members (dead ones included); more are refused. Bounds every table
 * walk and the size of a full-state sync message. */
export const membersMax = 10_000;
/** Incarnations are safe integers; a refutation past this is a bug, not a long-lived node. */
export const incarnationMax = Number.MAX_SAFE_INTEGER - 1;

export function stateRank(state: MemberState): number {
  return memberStates.indexOf(state);
}

/** True when `a` is strictly newer than `b` under the (incarnation, state) order. */
export function supersedes(a: MemberRecord, b: MemberRecord): boolean {
  assert(a.id === b.id, `comparing records of different members: ${a.id} vs ${b.id}`);
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation;
  return stateRank(a.state) > stateRank(b.state);
}

/** A member counts as in the group (probed, gossiped to) while alive or suspected (SWIM §4.2). */
export function isMember(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

/** The pointwise-maximum merge of tables, as a pure function (what the core does one record at a time). */
export function mergeTables(a: ReadonlyMap<NodeId, MemberRecord>, b: ReadonlyMap<NodeId, MemberRecord>): Map<NodeId, MemberRecord> {
  const merged = new Map(a);
  for (const [id, record] of b) {
    const mine = merged.get(id);
    if (mine === undefined || supersedes(record, mine)) merged.set(id, record);
  }
  return merged;
}

/** The number of times each update is sent before it is dropped: lambda * ceil(log10(n + 1)), the
 * infection-style bound of SWIM §4.1 (as memberlist computes it), at least 1. */
export function retransmitLimit(retransmitMult: number, membersAlive: number): number {
  assert(retransmitMult >= 1 && membersAlive >= 1, 'retransmitLimit needs positive inputs');
  return retransmitMult * Math.max(1, Math.ceil(Math.log10(membersAlive + 1)));
}

interface Queued {
  record: MemberRecord;
  transmits: number;
  /** Insertion order, so ties break the same way every run (newer first, as in memberlist). */
  seq: number;
}

/**
 * The retransmit queue of infection-style dissemination (SWIM §4.1): each update rides on outgoing
 * messages until it has been sent `limit` times. At most one update per member is queued (a newer one
 * replaces the older, transmit count reset), so the queue is bounded by the table size.
 */
export class UpdateQueue {
  private readonly queued = new Map<NodeId, Queued>();
  private seqNext = 0;

  get size(): number {
    return this.queued.size;
  }

  enqueue(record: MemberRecord): void {
    assert(this.queued.size < membersMax || this.queued.has(record.id), 'update queue over membersMax');
    this.queued.set(record.id, { record, transmits: 0, seq: this.seqNext++ });
  }

  /** Up to `max` updates for one outgoing message, least transmitted first (newest first on ties). Each
   * counts one transmission; an update sent `limit` times leaves the queue. */
  take(max: number, limit: number, skip?: NodeId): MemberRecord[] {
    assert(max >= 0 && limit >= 1, 'take needs max >= 0 and limit >= 1');
    if (max === 0 || this.queued.size === 0) return [];
    const order = [...this.queued.values()].filter((q) => q.record.id !== skip);
    order.sort((a, b) => a.transmits - b.transmits || b.seq - a.seq);
    const taken = order.slice(0, max);
    for (const q of taken) {
      q.transmits++;
      if (q.transmits >= limit) this.queued.delete(q.record.id);
    }
    return taken.map((q) => q.record);
  }
}

/**
 * The probe schedule of SWIM §4.3: members are probed round-robin over a list shuffled at the start of
 * every pass, and a new member is inserted at a random position. Every member is probed once per pass,
 * which bounds the time to the first probe of a failed member by about two passes.
 */
export class ProbeSchedule {
  private order: NodeId[] = [];
  private next = 0;

  constructor(private readonly drawIndex: (maxExclusive: number) => number) {}

  /** Inserts `id` at a random position (a no-op when it is already scheduled). */
  add(id: NodeId): void {
    if (this.order.includes(id)) return;
    this.order.splice(this.drawIndex(this.order.length + 1), 0, id);
    if (this.order.indexOf(id) < this.next) this.next++;
  }

  /** The next member to probe, skipping those `probeable` rejects; undefined when none qualifies.
   * Bounded: at most one full pass plus one reshuffle. */
  pick(probeable: (id: NodeId) => boolean): NodeId | undefined {
    for (let scanned = 0; scanned <= this.order.length; scanned++) {
      if (this.next >= this.order.length) this.reshuffle(probeable);
      if (this.order.length === 0) return undefined;
      const id = this.order[this.next++] as NodeId;
      if (probeable(id)) return id;
    }
    return undefined;
  }

  /** Drops members that no longer qualify and shuffles the rest (Fisher-Yates). */
  private reshuffle(probeable: (id: NodeId) => boolean): void {
    const kept = this.order.filter(probeable);
    for (let i = kept.length - 1; i > 0; i--) {
      const j = this.drawIndex(i + 1);
      const t = kept[i] as NodeId;
      kept[i] = kept[j] as NodeId;
      kept[j] = t;
    }
    this.order = kept;
    this.next = 0;
  }
}

export interface CoreConfig {
  readonly retransmitMult: number;
  /** The shortest a suspicion lasts: once `suspicionConfirmations` independent accusers confirmed it. */
  readonly suspicionTimeoutMs: number;
  /** A suspicion nobody else confirms lasts this many times `suspicionTimeoutMs`. */
  readonly suspicionTimeoutMaxMult: number;
  /** Independent confirmations (accusers besides the first) that bring a suspicion down to the minimum. */
  readonly suspicionConfirmations: number;
  readonly piggybackUpdatesMax: number;
}

/**
 * Lifeguard's dynamic suspicion timeout (Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for
 * More Accurate Failure Detection", 2018, §IV-B; memberlist's suspicion.go): a suspicion starts at
 * `maxMs` and shrinks logarithmically with each independent confirmation, reaching `minMs` at `k`. A
 * crashed member is soon suspected by many probers, so it is still declared dead quickly; a member
 * suspected by one node with a lossy link keeps its full, long window to refute.
 */
export function suspicionTimeoutMs(minMs: number, maxMs: number, k: number, confirmations: number): number {
  assert(minMs > 0 && maxMs >= minMs && k >= 0 && confirmations >= 0, 'suspicionTimeoutMs needs 0 < min <= max, k >= 0');
  if (k === 0 || confirmations >= k) return minMs;
  const shrink = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - (maxMs - minMs) * shrink));
}

/**
 * Lifeguard's local health multiplier (§IV-A, "Local Health Aware Probe"; memberlist's awareness.go): a
 * score in [0, max] of how much this node's own slowness may be to blame for what it observes. A probe
 * that got no ack in its period, and having to refute a suspicion of itself, raise it; a probe answered
 * in time lowers it. Probe periods and ack timeouts are scaled by score + 1, so a node that reads its
 * input late (CPU-starved, paging) probes less often and waits longer before it suspects anyone, instead
 * of accusing healthy members. max = 0 turns it off.
 */
export class LocalHealth {
  private scoreNow = 0;

  constructor(readonly max: number) {
    assert(Number.isInteger(max) && max >= 0, 'local health max is an integer >= 0');
  }

  get score(): number {
    return this.scoreNow;
  }

  /** Evidence of this node's own slowness (+1) or health (-1); true when the score changed. */
  record(delta: 1 | -1): boolean {
    const next = Math.min(this.max, Math.max(0, this.scoreNow + delta));
    if (next === this.scoreNow) return false;
    this.scoreNow = next;
    return true;
  }

  /** A probe period or ack timeout, stretched by the current score. */
  scale(durationMs: number): number {
    return durationMs * (this.scoreNow + 1);
  }
}

/** One suspicion held here: since when, and by whom (its first accuser and its confirmations). */
interface Suspicion {
  readonly sinceMs: number;
  readonly accusers: Set<NodeId>;
}

/** A change of the local view, for listeners and traces. `previous` is undefined for a new member. */
export interface MemberChange {
  readonly id: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly previous: MemberState | undefined;
}

/** What `inspect()` exposes to checkers: read-only. */
export interface MembershipView {
  readonly self: NodeId;
  /** False until the boot incarnation is durable; a node says nothing before that. */
  readonly started: boolean;
  /** The incarnation this boot started with (durable before the first send). */
  readonly bootIncarnation: number;
  /** The node's current (durable) incarnation. */
  readonly incarnation: number;
  /** Bumped on every table change, so a checker can skip unchanged views. */
  readonly version: number;
  get(id: NodeId): MemberRecord | undefined;
  records(): readonly MemberRecord[];
  /** Members other than self that are alive or suspected, sorted. */
  liveMembers(): NodeId[];
}

export class MembershipCore implements MembershipView {
  readonly self: NodeId;
  started = false;
  bootIncarnation = 0;
  version = 0;
  readonly queue = new UpdateQueue();
  readonly schedule: ProbeSchedule;
  private readonly table = new Map<NodeId, MemberRecord>();
  /** Each currently suspected member: when it became suspect here (SWIM §4.2) and its accusers. */
  private readonly suspicions = new Map<NodeId, Suspicion>();
  /** The smallest incarnation that would refute every claim against self heard so far. */
  private refuteWanted = 0;
  private leaving = false;

  constructor(self: NodeId, private readonly config: CoreConfig, drawIndex: (maxExclusive: number) => number) {
    assert(self.length > 0, 'self id must not be empty');
    assert(config.suspicionTimeoutMs > 0 && config.suspicionTimeoutMaxMult >= 1 && config.suspicionConfirmations >= 0 && config.retransmitMult >= 1, 'bad core config');
    this.self = self;
    this.schedule = new ProbeSchedule(drawIndex);
  }

  get incarnation(): number {
    return this.table.get(this.self)?.incarnation ?? 0;
  }

  get(id: NodeId): MemberRecord | undefined {
    return this.table.get(id);
  }

  records(): readonly MemberRecord[] {
    return [...this.table.values()];
  }

  liveMembers(): NodeId[] {
    return this.ids((r) => r.id !== this.self && isMember(r.state));
  }

  /** Every known member other than self (dead and left included), sorted: sync and reconnect targets. */
  others(): NodeId[] {
    return this.ids((r) => r.id !== this.self);
  }

  private ids(keep: (r: MemberRecord) => boolean): NodeId[] {
    const ids: NodeId[] = [];
    for (const r of this.table.values()) if (keep(r)) ids.push(r.id);
    return ids.sort();
  }

  /** Alive and suspected members, self included: the n of the retransmit bound. */
  get groupSize(): number {
    return this.liveMembers().length + 1;
  }

  /** Starts (or restarts, after a refutation) self at `incarnation`, which the node has made durable. */
  becomeAlive(incarnation: number): MemberChange[] {
    assert(incarnation > this.incarnation || !this.started, `incarnation must grow: ${incarnation} after ${this.incarnation}`);
    assert(incarnation <= incarnationMax, 'incarnation overflow');
    if (!this.started) this.bootIncarnation = incarnation;
    this.started = true;
    const record: MemberRecord = { id: this.self, state: 'alive', incarnation };
    this.table.set(this.self, record);
    this.version++;
    this.queue.enqueue(record);
    return [];
  }

  /** Graceful leave: self is `left` at its current incarnation; the node spreads it, then goes quiet. */
  leave(): MemberRecord {
    assert(this.started, 'leave before start');
    this.leaving = true;
    const record: MemberRecord = { id: this.self, state: 'left', incarnation: this.incarnation };
    this.table.set(this.self, record);
    this.version++;
    this.queue.enqueue(record);
    return record;
  }

  /** The incarnation self must reach to refute what it heard, or undefined when nothing needs refuting. */
  pendingRefutation(): number | undefined {
    return this.refuteWanted > this.incarnation && !this.leaving ? this.refuteWanted : undefined;
  }

  /**
   * Merges one record (from a message or a sync) and returns the changes of the local view. A record
   * about self never enters the table: a claim that self is suspect, dead or left (or alive at a newer
   * incarnation, which only a lost write could cause) asks for a refutation instead.
   */
  apply(record: MemberRecord, nowMs: number): MemberChange[] {
    if (record.id === this.self) {
      const claimsAgainst = record.state !== 'alive' ? record.incarnation >= this.incarnation : record.incarnation > this.incarnation;
      if (claimsAgainst && this.started) this.refuteWanted = Math.max(this.refuteWanted, record.incarnation + 1);
      return [];
    }
    const mine = this.table.get(record.id);
    if (mine !== undefined && !supersedes(record, mine)) {
      if (record.state === 'suspect' && mine.state === 'suspect' && record.incarnation === mine.incarnation) this.confirm(record);
      return [];
    }
    if (mine === undefined && this.table.size >= membersMax) return [];
    return [this.set(record, mine, nowMs)];
  }

  /**
   * Another accuser of a suspicion held here: counted (up to what can still shorten the timeout) and
   * passed on, so the other holders count it too (memberlist re-broadcasts confirmations likewise).
   */
  private confirm(record: MemberRecord): void {
    const suspicion = this.suspicions.get(record.id);
    if (suspicion === undefined || record.accuser === undefined || suspicion.accusers.has(record.accuser)) return;
    if (suspicion.accusers.size > this.config.suspicionConfirmations) return;
    suspicion.accusers.add(record.accuser);
    this.queue.enqueue(record);
  }

  private set(record: MemberRecord, previous: MemberRecord | undefined, nowMs: number): MemberChange {
    assert(record.id !== this.self, 'self is never set through merge');
    this.table.set(record.id, record);
    this.version++;
    this.queue.enqueue(record);
    if (record.state === 'suspect') this.suspicions.set(record.id, { sinceMs: nowMs, accusers: new Set(record.accuser === undefined ? [] : [record.accuser]) });
    else this.suspicions.delete(record.id);
    if (isMember(record.state)) this.schedule.add(record.id);
    return { id: record.id, state: record.state, incarnation: record.incarnation, previous: previous?.state };
  }

  /** A probe of `id` got no ack, direct or indirect: suspect it at the incarnation we know (SWIM §4.2),
   * or, when it is suspect already, confirm that suspicion as one more independent accuser. */
  suspect(id: NodeId, nowMs: number): MemberChange[] {
    const mine = this.table.get(id);
    if (mine === undefined || (mine.state !== 'alive' && mine.state !== 'suspect')) return [];
    return this.apply({ id, state: 'suspect', incarnation: mine.incarnation, accuser: this.self }, nowMs);
  }

  /** Members suspected here, oldest suspicion first (ties by id). */
  suspects(): NodeId[] {
    return [...this.suspicions].sort(([a, sa], [b, sb]) => sa.sinceMs - sb.sinceMs || (a < b ? -1 : 1)).map(([id]) => id);
  }

  /** How long the suspicion of `id` lasts given its confirmations so far (undefined when not suspected). */
  suspicionTimeoutOf(id: NodeId): number | undefined {
    const suspicion = this.suspicions.get(id);
    return suspicion === undefined ? undefined : this.timeoutOf(suspicion, this.confirmationsWanted());
  }

  /** K of the dynamic timeout. With fewer other members than K + 1, no suspicion could ever get K
   * confirmations, so every suspicion takes the minimum. */
  private confirmationsWanted(): number {
    const k = this.config.suspicionConfirmations;
    return this.groupSize - 2 < k ? 0 : k;
  }

  private timeoutOf(suspicion: Suspicion, k: number): number {
    const { suspicionTimeoutMs: minMs, suspicionTimeoutMaxMult } = this.config;
    return suspicionTimeoutMs(minMs, minMs * suspicionTimeoutMaxMult, k, Math.max(0, suspicion.accusers.size - 1));
  }

  /** Suspicions older than their timeout become `dead` at the same incarnation (SWIM §4.2 "Confirm").
   * Bounded by the table size. */
  expireSuspicions(nowMs: number): MemberChange[] {
    const changes: MemberChange[] = [];
    const k = this.confirmationsWanted(); // once per sweep: the group size walks the table
    const expired = [...this.suspicions].filter(([, s]) => nowMs - s.sinceMs >= this.timeoutOf(s, k)).map(([id]) => id);
    for (const id of expired.sort()) {
      const mine = this.table.get(id);
      assert(mine !== undefined && mine.state === 'suspect', `suspicion timer on a non-suspect member ${id}`);
      changes.push(...this.apply({ id, state: 'dead', incarnation: mine.incarnation }, nowMs));
    }
    return changes;
  }

  /** Updates to piggyback on one message to `to`. If `to` is suspected, dead or left here, that record
   * goes first, so it learns at once and can refute (Lifeguard's "buddy system", Dadgar et al. 2018 §IV-C). */
  piggyback(to: NodeId | undefined): MemberRecord[] {
    const limit = retransmitLimit(this.config.retransmitMult, this.groupSize);
    const about = to === undefined ? undefined : this.table.get(to);
    if (about === undefined || about.state === 'alive') return this.queue.take(this.config.piggybackUpdatesMax, limit);
    return [about, ...this.queue.take(this.config.piggybackUpdatesMax - 1, limit, to)];
  }
}
