/**
 * Workloads: what a simulated run exercises. A workload is
 *   - a node program (a registered program name or a factory) and the args each node gets,
 *   - a driver that schedules client operations during the safety phase,
 *   - safety invariants, checked after every step that ran node code,
 *   - a liveness condition, which must hold within a bound once faults are healed.
 * Later protocols (gossip, kv, mapreduce, raft) plug in by calling `registerWorkload`.
 */
import type { NodeFactory, NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import type { SimRandom } from './random.js';
import type { Simulation } from './simulation.js';

export interface Violation {
  /** Stable name of the broken invariant, e.g. `broadcast.integrity`. */
  readonly invariant: string;
  readonly message: string;
}

export interface WorkloadDefaults {
  readonly nodes: number;
  readonly durationMs: number;
  /** Client operations issued during the safety phase. */
  readonly ops: number;
  /** After healing, the liveness condition must hold within this many virtual ms. */
  readonly livenessMsMax: number;
}

export interface WorkloadContext {
  readonly sim: Simulation;
  /** The workload's own stream (client choices); independent of the network's and the nodes'. */
  readonly random: SimRandom;
  readonly nodeIds: readonly NodeId[];
  /** End of the safety phase; client operations should be scheduled before it. */
  readonly durationMs: number;
  readonly ops: number;
}

/**
 * Schedules `ctx.ops` client operations at times drawn from the first `windowShare` of the safety phase
 * (so the last ones still meet faults). The time is drawn first, then `prepare(i)` draws whatever else
 * the operation needs from the same stream and returns the action `sim.at` runs.
 */
export function scheduleOps(ctx: WorkloadContext, windowShare: number, prepare: (index: number) => () => void): void {
  const windowMs = Math.max(1, Math.floor(ctx.durationMs * windowShare));
  for (let i = 0; i < ctx.ops; i++) {
    const atMs = ctx.random.int(0, windowMs);
    ctx.sim.at(atMs, prepare(i));
  }
}

export interface WorkloadRun {
  /** Schedules client operations (called once, at time 0, after the nodes have booted). */
  start(): void;
  /** Safety invariants touching `node`, checked right after it ran. Return a violation or undefined. */
  checkStep(node: NodeId): Violation | undefined;
  /** Cross-node safety checks that are too costly per step; run at each liveness poll and at the end. */
  checkAll(): Violation | undefined;
  /** True once the system has made the progress the workload requires (after healing). */
  isLive(): boolean;
  /** What is still missing, for the liveness failure message. */
  livenessReport(): string;
  /** Workload figures for the summary (values broadcast, acknowledged, ...). */
  stats(): Record<string, number>;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  readonly program: string | NodeFactory;
  readonly defaults: WorkloadDefaults;
  /** A deliberately broken variant (proves checkers can fail). Its regressions must keep failing the
   * same way; a real workload's regressions must pass once the bug is fixed. */
  readonly mutant?: boolean;
  /** Args for node `id`'s program; `ops` is the run's operation count (some programs size themselves by it). */
  nodeArgs(nodeIds: readonly NodeId[], id: NodeId, ops: number): unknown;
  create(ctx: WorkloadContext): WorkloadRun;
}

const workloads = new Map<string, Workload>();

export function registerWorkload(workload: Workload): void {
  assert(/^[a-z][a-z0-9-]{0,63}$/.test(workload.name), `workload name must be kebab-case: ${workload.name}`);
  const existing = workloads.get(workload.name);
  assert(existing === undefined || existing === workload, `workload already registered: ${workload.name}`);
  workloads.set(workload.name, workload);
}

export function getWorkload(name: string): Workload | undefined {
  return workloads.get(name);
}

export function workloadNames(): string[] {
  return [...workloads.keys()].sort();
}
