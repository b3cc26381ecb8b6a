/**
 * The Env-bound membership node: turns timer ticks, messages and disk callbacks into calls on
 * MembershipCore, and the core's answers into sends, disk writes, traces and listener calls. Nothing
 * here knows whether it runs in the simulator or in a real process.
 *
 * Timers (one of each at a time): the probe tick (every probeIntervalMs), the ack timeout of the current
 * probe, the gossip tick (every gossipIntervalMs) and the sync tick (every syncIntervalMs).
 */
import type { Env, NodeId, NodeProgram, Random } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { decode, encode } from '../../serialize/index.js';
import { parseMembershipArgs, type MembershipConfig } from './config.js';
import { isMember, LocalHealth, MembershipCore, type MemberChange, type MemberRecord, type MemberState, type MembershipView } from './core.js';
import { decodeMessage, encodeMessage, type MembershipMessage } from './messages.js';

export const membershipChannel = 'membership';
export const membershipDiskPrefix = 'membership/';

/** Called for every change of the local view of another member: a new member (alive), a suspicion, a
 * refutation (back to alive), a death, a graceful leave, a rejoin after death (alive at a higher
 * incarnation). Listeners run synchronously inside the node's event; they must not throw. */
export type MembershipListener = (nodeId: NodeId, state: MemberState, incarnation: number) => void;

export interface Membership extends NodeProgram {
  /** Subscribes to view changes; returns an unsubscribe function. */
  onChange(listener: MembershipListener): () => void;
  /** Other members currently alive or suspected here, sorted. */
  members(): NodeId[];
  /** This node's view of `id`, or undefined if it never heard of it. */
  stateOf(id: NodeId): MemberState | undefined;
  /** Graceful leave: tells the group this node is leaving, then goes quiet (timers stop). */
  leave(): void;
  /** Lifeguard's local health score, 0 (healthy) to `localHealthMax`: probe periods are stretched score + 1 times. */
  localHealth(): number;
  readonly view: MembershipView;
  inspect(): MembershipView;
  stop(): void;
}

export interface MembershipOptions {
  /** Net channel; a host embedding several protocols can pick its own. */
  readonly channel?: string;
  /** Prefix of this module's disk keys. */
  readonly diskPrefix?: string;
}

/** Listeners per node; more is a leak in the caller, not a design. */
const listenersMax = 64;
/** Indirect probes being relayed for others at once; more requests are dropped (the requester's
 * other intermediaries may still answer). */
const relaysMax = 64;
/** Members told directly of a graceful leave (the rest hear it by gossip). */
const leaveNotifyMax = 16;
/** Senders of a claim against self remembered until the refutation is durable, to answer directly. */
const accusersMax = 16;

interface Probe {
  readonly seq: number;
  readonly target: NodeId;
  acked: boolean;
}

interface Relay {
  readonly requester: NodeId;
  readonly seq: number;
  readonly target: NodeId;
  readonly atMs: number;
}

/** Program factory (registered as `membership`): args are validated by parseMembershipArgs. */
export function createMembershipNode(env: Env, args: unknown): Membership {
  return createMembership(env, parseMembershipArgs(args));
}

export function createMembership(env: Env, config: MembershipConfig, options: MembershipOptions = {}): Membership {
  return new MembershipNode(env, config, options).handle();
}

class MembershipNode {
  private readonly channel: string;
  private readonly incarnationKey: string;
  private readonly random: Random;
  private readonly core: MembershipCore;
  private readonly health: LocalHealth;
  private readonly listeners: MembershipListener[] = [];
  private readonly relays = new Map<number, Relay>();
  private readonly timers = new Set<number>();
  private probe: Probe | undefined;
  /** `id@incarnation` of suspicions this node has already re-probed once (see pickTarget). */
  private readonly reprobed = new Set<string>();
  /** Who told this node it is suspected/dead, since its last refutation (answered when it is durable). */
  private readonly accusers = new Set<NodeId>();
  private seqNext = 1;
  private writing = false;
  private stopped = false;

  constructor(private readonly env: Env, private readonly config: MembershipConfig, options: MembershipOptions) {
    this.channel = options.channel ?? membershipChannel;
    this.incarnationKey = `${options.diskPrefix ?? membershipDiskPrefix}incarnation`;
    this.random = env.random.fork('membership');
    this.core = new MembershipCore(env.nodeId, config, (maxExclusive) => this.random.int(0, maxExclusive));
    this.health = new LocalHealth(config.localHealthMax);
    this.boot();
  }

  handle(): Membership {
    return {
      onChange: (listener) => this.subscribe(listener),
      members: () => this.core.liveMembers(),
      stateOf: (id) => this.core.get(id)?.state,
      leave: () => this.leave(),
      localHealth: () => this.health.score,
      view: this.core,
      inspect: () => this.core,
      stop: () => this.leave(),
    };
  }

  // ------------------------------------------------------------------ lifecycle

  /** A (re)start: the new incarnation is one above the last durable one, and it is written before this
   * node sends anything, so no peer can ever have heard a higher incarnation of it (a restarted node
   * always supersedes its old records, including `dead`). */
  private boot(): void {
    const stored = readIncarnation(this.env.disk.get(this.incarnationKey));
    this.persist(stored + 1, () => {
      this.core.becomeAlive(stored + 1);
      this.env.trace.event('membership.start', { incarnation: stored + 1 });
      this.env.net.listen(this.channel, (from, payload) => this.onMessage(from, payload));
      this.join();
      // Protocol periods, each stretched by the local health score at its start (Lifeguard §IV-A).
      this.every(() => this.health.scale(this.config.probeIntervalMs), () => this.onProbeTick());
      // Suspicions expire on the unstretched period: a node finding itself slow probes less, but a
      // suspicion it holds still ends on time.
      this.every(this.config.probeIntervalMs, () => this.emit(this.core.expireSuspicions(this.env.clock.now())));
      if (this.config.gossipFanout > 0) this.every(this.config.gossipIntervalMs, () => this.onGossipTick());
      if (this.config.syncIntervalMs > 0) this.every(this.config.syncIntervalMs, () => this.onSyncTick());
    });
  }

  /** Writes `incarnation`, then calls `onDurable`. A failed write is retried every probe period; no
   * other incarnation write starts meanwhile. */
  private persist(incarnation: number, onDurable: () => void): void {
    assert(!this.writing, 'one incarnation write at a time');
    this.writing = true;
    const attempt = (): void => {
      this.env.disk.write([{ key: this.incarnationKey, value: encode(incarnation) }], (result) => {
        if (this.stopped) return;
        if (!result.ok) {
          this.env.trace.event('membership.write-failed', { incarnation, code: result.error.code });
          this.after(this.config.probeIntervalMs, attempt);
          return;
        }
        this.writing = false;
        onDurable();
      });
    };
    attempt();
  }

  /** Join (and rejoin after a restart): a full-state sync with every seed. */
  private join(): void {
    for (const seed of this.config.seeds) if (seed !== this.env.nodeId) this.sendSync(seed, true);
  }

  private leave(): void {
    if (this.stopped) return;
    if (this.core.started) {
      const record = this.core.leave();
      this.env.trace.event('membership.leave', { incarnation: record.incarnation });
      for (const to of sample(this.random, this.core.liveMembers(), leaveNotifyMax)) this.send(to, { type: 'gossip', updates: [record] });
    }
    this.stopped = true;
    for (const id of this.timers) this.env.timers.cancel(id);
    this.timers.clear();
  }

  private subscribe(listener: MembershipListener): () => void {
    assert(typeof listener === 'function', 'onChange needs a function');
    assert(this.listeners.length < listenersMax, `more than ${listenersMax} membership listeners`);
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ------------------------------------------------------------------ timers

  private after(delayMs: number, fn: () => void): void {
    const id = this.env.timers.set(delayMs, () => {
      this.timers.delete(id);
      if (!this.stopped) fn();
    });
    this.timers.add(id);
  }

  /** Runs `fn` every `intervalMs`; a function gives each next interval (the probe period stretches). */
  private every(intervalMs: number | (() => number), fn: () => void): void {
    this.after(typeof intervalMs === 'number' ? intervalMs : intervalMs(), () => {
      fn();
      this.every(intervalMs, fn);
    });
  }

  /** Lifeguard's local health: +1 when this node may be the slow one, -1 when a probe went well. */
  private recordHealth(delta: 1 | -1): void {
    if (this.health.record(delta)) this.env.trace.event('membership.health', { score: this.health.score });
  }

  /** One protocol period (SWIM §3.1, §4.3): close the last probe, probe the next member. */
  private onProbeTick(): void {
    const last = this.probe;
    if (last !== undefined) this.recordHealth(last.acked ? -1 : 1);
    if (last !== undefined && !last.acked) this.emit(this.core.suspect(last.target, this.env.clock.now()));
    this.probe = undefined;
    const target = this.pickTarget();
    if (target === undefined) return;
    const probe: Probe = { seq: this.seqNext++, target, acked: false };
    this.probe = probe;
    this.send(target, { type: 'ping', seq: probe.seq, target, updates: this.core.piggyback(target) });
    this.after(this.health.scale(this.config.ackTimeoutMs), () => this.onAckTimeout(probe));
  }

  /**
   * The next member to probe: a member suspected here that this node has not probed since the
   * suspicion, else the next of the round-robin (§4.3). The re-probe carries the suspicion to the
   * suspect (buddy system) and brings its refutation back in the ack, so a refutation that gossip
   * happened to miss this node is not lost (Lifeguard, Dadgar et al. 2018, §IV: suspects are where
   * false positives are made). Still one probe per period.
   */
  private pickTarget(): NodeId | undefined {
    const suspects = this.core.suspects();
    for (const key of this.reprobed) {
      const [id, incarnation] = key.split('@') as [NodeId, string];
      const record = this.core.get(id);
      if (record?.state !== 'suspect' || String(record.incarnation) !== incarnation) this.reprobed.delete(key);
    }
    for (const id of suspects) {
      const key = `${id}@${(this.core.get(id) as MemberRecord).incarnation}`;
      if (this.reprobed.has(key)) continue;
      this.reprobed.add(key);
      return id;
    }
    return this.core.schedule.pick((id) => {
      const record = this.core.get(id);
      return record !== undefined && id !== this.env.nodeId && isMember(record.state);
    });
  }

  /** No direct ack in time: ask k random other members to probe the target (SWIM §3.1 ping-req). */
  private onAckTimeout(probe: Probe): void {
    if (probe !== this.probe || probe.acked) return;
    const helpers = sample(this.random, this.core.liveMembers().filter((id) => id !== probe.target), this.config.indirectProbes);
    for (const helper of helpers) {
      this.send(helper, { type: 'ping-req', seq: probe.seq, target: probe.target, updates: this.core.piggyback(helper) });
    }
  }

  /** Infection-style push: pending updates go to `gossipFanout` random members, each message taking
   * its own updates from the retransmit queue (each send counts one transmission). */
  private onGossipTick(): void {
    if (this.core.queue.size === 0) return;
    for (const to of sample(this.random, this.core.liveMembers(), this.config.gossipFanout)) {
      const updates = this.core.piggyback(to);
      if (updates.length > 0) this.send(to, { type: 'gossip', updates });
    }
  }

  /** Anti-entropy and reconnect: a full-state sync with one random known member, dead ones and seeds
   * included, so two sides of a healed partition that declared each other dead merge again. */
  private onSyncTick(): void {
    const candidates = [...new Set([...this.core.others(), ...this.config.seeds])].filter((id) => id !== this.env.nodeId).sort();
    if (candidates.length > 0) this.sendSync(candidates[this.random.int(0, candidates.length)] as NodeId, true);
  }

  // ------------------------------------------------------------------ messages

  private send(to: NodeId, message: MembershipMessage): void {
    this.env.net.send(to, this.channel, encodeMessage(message));
  }

  private sendSync(to: NodeId, reply: boolean): void {
    this.send(to, { type: 'sync', reply, updates: this.core.records() });
  }

  private onMessage(from: NodeId, payload: Uint8Array): void {
    if (this.stopped) return;
    const message = decodeMessage(payload);
    if (message instanceof DistError) {
      this.env.trace.event('membership.bad-message', { from, code: message.code });
      return;
    }
    const correct = this.heardStaleClaim(message.updates);
    if (this.accusers.size < accusersMax && this.heardCurrentClaim(message.updates)) this.accusers.add(from);
    this.merge(message.updates);
    if (correct && message.type !== 'ping') this.send(from, { type: 'gossip', updates: [this.selfRecord()] });
    switch (message.type) {
      case 'ping':
        return this.handlePing(from, message.seq, message.target);
      case 'ack':
        return this.handleAck(message.seq, message.target);
      case 'ping-req':
        return this.handlePingReq(from, message.seq, message.target);
      case 'gossip':
        return;
      case 'sync':
        if (message.reply) this.sendSync(from, false);
        return;
    }
  }

  /** The ack always carries self's own record first, so every probe that gets through is also a
   * refutation of any suspicion the prober holds (suspicions are refuted by the suspect only). */
  private handlePing(from: NodeId, seq: number, target: NodeId): void {
    if (target !== this.env.nodeId) return; // meant for another process under this id
    this.send(from, { type: 'ack', seq, target, updates: [this.selfRecord(), ...this.core.piggyback(from)] });
  }

  /** True when `updates` hold a claim against self that self has already refuted (the sender missed
   * the refutation): the reply then carries self's current record. */
  private heardStaleClaim(updates: readonly MemberRecord[]): boolean {
    const incarnation = this.core.incarnation;
    return updates.some((r) => r.id === this.env.nodeId && r.state !== 'alive' && r.incarnation < incarnation);
  }

  /** True when `updates` hold a claim against self at its current incarnation (to be refuted). */
  private heardCurrentClaim(updates: readonly MemberRecord[]): boolean {
    const incarnation = this.core.incarnation;
    return updates.some((r) => r.id === this.env.nodeId && r.state !== 'alive' && r.incarnation >= incarnation);
  }

  private selfRecord(): MemberRecord {
    return this.core.get(this.env.nodeId) as MemberRecord;
  }

  private handleAck(seq: number, target: NodeId): void {
    const probe = this.probe;
    if (probe !== undefined && probe.seq === seq && probe.target === target) {
      probe.acked = true;
      return;
    }
    const relay = this.relays.get(seq);
    if (relay === undefined || relay.target !== target) return;
    this.relays.delete(seq);
    // Pass on the target's own record (just merged from its ack), so an indirect probe refutes too.
    const about = this.core.get(target);
    const updates = this.core.piggyback(relay.requester);
    this.send(relay.requester, { type: 'ack', seq: relay.seq, target, updates: about === undefined ? updates : [about, ...updates] });
  }

  private handlePingReq(from: NodeId, seq: number, target: NodeId): void {
    const nowMs = this.env.clock.now();
    // Relays older than a period are stale (the requester has closed its probe): drop them first.
    for (const [key, relay] of this.relays) if (nowMs - relay.atMs > this.config.probeIntervalMs) this.relays.delete(key);
    if (this.relays.size >= relaysMax || target === this.env.nodeId) return;
    const relaySeq = this.seqNext++;
    this.relays.set(relaySeq, { requester: from, seq, target, atMs: nowMs });
    this.send(target, { type: 'ping', seq: relaySeq, target, updates: this.core.piggyback(target) });
  }

  /** Merges records, tells listeners, and starts a refutation if one is needed. */
  private merge(updates: readonly MemberRecord[]): void {
    const nowMs = this.env.clock.now();
    for (const record of updates) this.emit(this.core.apply(record, nowMs));
    this.refuteIfNeeded();
  }

  /** SWIM §4.2: a node suspected (or declared dead) at its current incarnation refutes with alive at a
   * higher one. The new incarnation is made durable first and only then announced. */
  private refuteIfNeeded(): void {
    const wanted = this.core.pendingRefutation();
    if (wanted === undefined || this.writing || this.stopped) return;
    this.persist(wanted, () => {
      if (wanted <= this.core.incarnation) return;
      this.core.becomeAlive(wanted);
      this.env.trace.event('membership.refute', { incarnation: wanted });
      this.recordHealth(1); // peers found this node slow to answer: it may be the slow one
      // The accusers hear the refutation directly (its gossip might miss one of them for a whole
      // suspicion timeout under loss); everyone else hears it by gossip.
      for (const accuser of [...this.accusers].sort()) this.send(accuser, { type: 'gossip', updates: [this.selfRecord()] });
      this.accusers.clear();
      this.refuteIfNeeded();
    });
  }

  private emit(changes: readonly MemberChange[]): void {
    for (const change of changes) {
      this.env.trace.event('membership.change', { id: change.id, state: change.state, incarnation: change.incarnation, previous: change.previous ?? null });
      for (const listener of [...this.listeners]) listener(change.id, change.state, change.incarnation);
    }
  }
}

/** The stored incarnation; 0 when there is none. Unreadable bytes also count as 0: that is a wiped
 * disk, after which the node may restart below an incarnation peers remember (an operator's problem
 * that no protocol can see). */
function readIncarnation(bytes: Uint8Array | undefined): number {
  if (bytes === undefined) return 0;
  try {
    const value = decode(bytes, { functions: false });
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
  } catch {
    return 0;
  }
}

/** Up to `count` distinct items chosen uniformly (partial Fisher-Yates over a copy). */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const copy = items.slice();
  const taken = Math.min(count, copy.length);
  for (let i = 0; i < taken; i++) {
    const j = random.int(i, copy.length);
    const t = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = t;
  }
  return copy.slice(0, taken);
}
