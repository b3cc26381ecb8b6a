/**
 * The membership workload and its checker: every node runs SWIM membership (src/protocols/membership)
 * with the first three nodes as seeds; the fault plan crashes, restarts, partitions and drops; no
 * client operations are needed (the protocol is its own load).
 *
 * Safety, checked after every step of a node (all hold for SWIM with durable incarnations):
 * - membership.self-alive: a node never holds itself suspected, dead or left (it refutes instead);
 * - membership.monotonic: a node's record of any member never moves back in (incarnation, state) order
 *   within one run of that node;
 * - membership.incarnation-origin: no node holds an incarnation of m above the highest m announced;
 * - membership.restart-incarnation: a node restarts above every incarnation it ever announced (so its
 *   new `alive` beats any `dead` about its previous life);
 * - membership.accuracy, enforced only when the plan has no partitions, clogs, slow nodes or pauses as long
 *   as the suspicion timeout, and loss <= 10%
 *   (otherwise counted as `falseDeaths`): no node declares m dead at an incarnation m is running with.
 * Liveness, after healing (every node restarted): every node holds every other node `alive`.
 * Figures: crashes seen, crashes detected (every live node holds the crashed node dead before it
 * restarts) and detection time, false deaths, suspicions (records seen) and suspicions raised (by their
 * accuser: all, by a planned slow node, of a slow node), refutations.
 */
import type { NodeFactory, NodeId } from '../../env/index.js';
import { membershipDefaults, membershipProgramName, supersedes, type MemberRecord, type MembershipView } from '../../protocols/membership/index.js';
import { registerWorkload, type Violation, type Workload, type WorkloadContext, type WorkloadDefaults, type WorkloadRun } from '../workload.js';

/** Timing for the simulator's heavy profile: latencies up to ~150 ms a hop, crashes of 50-3000 ms and
 * partitions of 200-3000 ms, so that some crashes and partitions outlast detection and some do not. */
export const membershipSimArgs = {
  probeIntervalMs: 500,
  ackTimeoutMs: 300,
  suspicionTimeoutMs: 2000,
  gossipIntervalMs: 100,
  syncIntervalMs: 2000,
} as const;

/** Seeds: the first few nodes (a restarted node rejoins through any of them that is up). */
const seedsCount = 3;
/** Accuracy is a checked invariant only on connected links with at most this much loss. */
export const accuracyLossChanceMax = 0.1;

export interface MembershipWorkloadOptions {
  readonly name: string;
  readonly description: string;
  readonly program?: string | NodeFactory;
  /** Protocol args on top of the seeds (timing, k, ...). */
  readonly args?: Readonly<Record<string, unknown>>;
  readonly defaults?: Partial<WorkloadDefaults>;
  readonly mutant?: boolean;
}

export function membershipWorkload(options: MembershipWorkloadOptions): Workload {
  const args = { ...membershipSimArgs, ...options.args };
  return {
    name: options.name,
    description: options.description,
    mutant: options.mutant ?? false,
    program: options.program ?? membershipProgramName,
    defaults: { nodes: 8, durationMs: 30_000, ops: 0, livenessMsMax: 60_000, ...options.defaults },
    nodeArgs: (nodeIds) => ({ seeds: nodeIds.slice(0, seedsCount), ...args }),
    create: (ctx) => new MembershipRun(ctx, args.suspicionTimeoutMs ?? membershipDefaults.suspicionTimeoutMs),
  };
}

interface Observed {
  /** The simulator's boot count of the node when these records were taken. */
  boot: number;
  version: number;
  records: Map<NodeId, MemberRecord>;
}

interface PendingCrash {
  readonly node: NodeId;
  readonly atMs: number;
  /** The incarnation it crashed with: detected once every live node holds it dead at >= this. */
  readonly incarnation: number;
}

class MembershipRun implements WorkloadRun {
  private readonly observed = new Map<NodeId, Observed>();
  /** Per node, the highest incarnation it ever announced (across restarts). */
  private readonly announced = new Map<NodeId, number>();
  private readonly enforceAccuracy: boolean;
  private pending: PendingCrash[] = [];
  private readonly detectionMs: number[] = [];
  private crashesSeen = 0;
  private crashesUndetected = 0;
  /** `member@incarnation` declared dead while running that incarnation (counted once per pair). */
  private readonly falseDeaths = new Set<string>();
  private suspicions = 0;
  /** Suspicions raised (seen in the accuser's own view): all, by a planned slow node, of a slow node. */
  private readonly raised = { all: 0, bySlow: 0, ofSlow: 0 };
  private readonly slowNodes: ReadonlySet<NodeId>;
  private refutations = 0;

  /** `suspicionTimeoutMs`: a node paused longer than this may rightly be declared dead. */
  constructor(private readonly ctx: WorkloadContext, suspicionTimeoutMs: number) {
    const plan = ctx.sim.plan;
    // A slow node's lag, or a pause, may outlast a suspicion (then its death is no detector's mistake):
    // counted, not enforced. A pause shorter than the suspicion timeout must not kill its node.
    this.slowNodes = new Set((plan.slowNodes ?? []).map((f) => f.node));
    const longPause = (plan.pauses ?? []).some((f) => f.durationMs >= suspicionTimeoutMs);
    this.enforceAccuracy = plan.partitions.length === 0 && plan.clogs.length === 0 && (plan.slowNodes ?? []).length === 0 && !longPause && plan.lossChance <= accuracyLossChanceMax;
  }

  start(): void {
    // Plan crashes run as simulator actions scheduled before this one at the same time, so by now the
    // node is down (or the crash was skipped because it already was).
    for (const crash of this.ctx.sim.plan.crashes) this.ctx.sim.at(crash.atMs, () => this.onCrash(crash.node));
  }

  private view(id: NodeId): MembershipView | undefined {
    return this.ctx.sim.inspect(id) as MembershipView | undefined;
  }

  private onCrash(node: NodeId): void {
    const incarnation = this.observed.get(node)?.records.get(node)?.incarnation;
    if (this.ctx.sim.isUp(node) || incarnation === undefined || this.pending.some((p) => p.node === node)) return;
    this.crashesSeen++;
    this.pending.push({ node, atMs: this.ctx.sim.now, incarnation });
  }

  checkStep(node: NodeId): Violation | undefined {
    const view = this.view(node);
    if (view === undefined || !view.started) return undefined;
    const boot = this.ctx.sim.incarnation(node);
    let seen = this.observed.get(node);
    if (seen === undefined || seen.boot !== boot) {
      const before = this.announced.get(node) ?? 0;
      if (view.bootIncarnation <= before) {
        return { invariant: 'membership.restart-incarnation', message: `${node} restarted at incarnation ${view.bootIncarnation}, not above ${before}` };
      }
      seen = { boot, version: -1, records: new Map() };
      this.observed.set(node, seen);
    }
    if (seen.version === view.version) return undefined;
    seen.version = view.version;
    return this.checkSelf(node, view) ?? this.checkRecords(node, view, seen);
  }

  private checkSelf(node: NodeId, view: MembershipView): Violation | undefined {
    const self = view.get(node);
    if (self === undefined || (self.state !== 'alive' && self.state !== 'left')) {
      return { invariant: 'membership.self-alive', message: `${node} holds itself ${self?.state ?? 'unknown'}` };
    }
    const before = this.announced.get(node) ?? 0;
    if (self.incarnation > before) {
      if (before > 0 && self.incarnation > view.bootIncarnation) this.refutations++;
      this.announced.set(node, self.incarnation);
    }
    return undefined;
  }

  private checkRecords(node: NodeId, view: MembershipView, seen: Observed): Violation | undefined {
    for (const record of view.records()) {
      const previous = seen.records.get(record.id);
      seen.records.set(record.id, record);
      if (record.id === node || previous === record) continue;
      const announced = this.announced.get(record.id) ?? 0;
      if (record.incarnation > announced) {
        return { invariant: 'membership.incarnation-origin', message: `${node} holds ${record.id} at incarnation ${record.incarnation}, above the ${announced} it announced` };
      }
      if (previous !== undefined && supersedes(previous, record)) {
        return { invariant: 'membership.monotonic', message: `${node} moved ${record.id} back from ${previous.state}@${previous.incarnation} to ${record.state}@${record.incarnation}` };
      }
      if (record.state === 'suspect') {
        this.suspicions++;
        if (record.accuser === node) this.countRaised(node, record.id);
      }
      if (record.state === 'dead') {
        const violation = this.onDeclaredDead(node, record);
        if (violation !== undefined) return violation;
      }
    }
    return undefined;
  }

  private countRaised(accuser: NodeId, suspect: NodeId): void {
    this.raised.all++;
    if (this.slowNodes.has(accuser)) this.raised.bySlow++;
    if (this.slowNodes.has(suspect)) this.raised.ofSlow++;
  }

  /** A fresh `dead` record: a false death if the member is running that incarnation; else maybe the
   * last piece of a crash detection. */
  private onDeclaredDead(observer: NodeId, record: MemberRecord): Violation | undefined {
    const target = this.view(record.id);
    if (target !== undefined && target.started && target.bootIncarnation <= record.incarnation) {
      this.falseDeaths.add(`${record.id}@${record.incarnation}`);
      if (this.enforceAccuracy) {
        return { invariant: 'membership.accuracy', message: `${observer} declared ${record.id} dead at incarnation ${record.incarnation} while it runs (loss ${this.ctx.sim.plan.lossChance}, no partitions)` };
      }
    }
    this.updateDetections();
    return undefined;
  }

  /** Completes crash detections whose node every live, started node now holds dead; drops those whose
   * node came back first. */
  private updateDetections(): void {
    const still: PendingCrash[] = [];
    for (const crash of this.pending) {
      if (this.ctx.sim.isUp(crash.node)) {
        this.crashesUndetected++;
        continue;
      }
      if (this.everyoneHoldsDead(crash)) this.detectionMs.push(this.ctx.sim.now - crash.atMs);
      else still.push(crash);
    }
    this.pending = still;
  }

  private everyoneHoldsDead(crash: PendingCrash): boolean {
    for (const id of this.ctx.nodeIds) {
      if (id === crash.node) continue;
      const view = this.view(id);
      if (view === undefined || !view.started) continue;
      const record = view.get(crash.node);
      if (record === undefined || record.incarnation < crash.incarnation || (record.state !== 'dead' && record.incarnation === crash.incarnation)) return false;
    }
    return true;
  }

  checkAll(): Violation | undefined {
    for (const id of this.ctx.nodeIds) {
      const violation = this.checkStep(id);
      if (violation !== undefined) return violation;
    }
    return undefined;
  }

  isLive(): boolean {
    return this.ctx.nodeIds.every((id) => this.missing(id).length === 0);
  }

  /** What `id` does not yet hold alive (every other node, once healed). */
  private missing(id: NodeId): string[] {
    const view = this.view(id);
    if (view === undefined || !view.started) return ['(not started)'];
    return this.ctx.nodeIds.filter((other) => other !== id && view.get(other)?.state !== 'alive');
  }

  livenessReport(): string {
    const parts = this.ctx.nodeIds.map((id) => `${id}: ${this.missing(id).map((m) => `${m}=${this.view(id)?.get(m)?.state ?? '?'}`).join(' ') || 'ok'}`);
    return `views not converged (${parts.join('; ')})`;
  }

  stats(): Record<string, number> {
    const detections = [...this.detectionMs].sort((a, b) => a - b);
    const sum = detections.reduce((s, x) => s + x, 0);
    return {
      crashesSeen: this.crashesSeen,
      crashesDetected: detections.length,
      crashesBackBeforeDetected: this.crashesUndetected,
      detectionMsMean: detections.length === 0 ? 0 : Math.round(sum / detections.length),
      detectionMsMax: detections.length === 0 ? 0 : (detections[detections.length - 1] as number),
      falseDeaths: this.falseDeaths.size,
      suspicions: this.suspicions,
      suspicionsRaised: this.raised.all,
      suspicionsRaisedBySlow: this.raised.bySlow,
      suspicionsRaisedOfSlow: this.raised.ofSlow,
      refutations: this.refutations,
      accuracyEnforced: this.enforceAccuracy ? 1 : 0,
    };
  }
}

export const membership = membershipWorkload({
  name: 'membership',
  description: 'SWIM membership: views converge after healing; incarnations only grow; no false deaths on lossy links',
});
registerWorkload(membership);
