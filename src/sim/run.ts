/**
 * One simulated run of a workload, start to verdict:
 *   1. safety phase [0, durationMs): the fault plan runs; invariants are checked after every step;
 *   2. heal: partitions and clogs lift, crashed nodes restart, message and disk faults stop;
 *   3. liveness phase: the workload's liveness condition must hold within livenessMsMax.
 * The verdict is `ok`, `safety` (an invariant broke or a node threw) or `liveness` (no progress in
 * time, or the event budget ran out). A bug in the simulator itself throws instead.
 */
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import type { NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { drawPlan, type FaultCounts, type FaultPlan, type ProfileName, profileNames, validatePlan } from './faults.js';
import { SimRandom } from './random.js';
import { Simulation } from './simulation.js';
import { FileSink, MemorySink, type TraceSink } from './trace.js';
import { getWorkload, workloadNames, type Violation, type Workload } from './workload.js';
import './workloads/index.js';

export type Verdict = 'ok' | 'safety' | 'liveness';

export interface RunConfig {
  readonly seed: number;
  readonly workload: string;
  readonly nodes: number;
  readonly durationMs: number;
  readonly livenessMsMax: number;
  readonly ops: number;
  readonly faults: ProfileName;
  /** A concrete plan overrides the one drawn from `faults` (replay, shrinking). */
  readonly plan?: FaultPlan;
}

export interface RunOptions {
  /** Write the trace here. */
  readonly traceFile?: string;
  /** Keep trace lines in memory (determinism checks). */
  readonly keepLines?: boolean;
  readonly eventsMax?: number;
}

export interface RunResult {
  readonly seed: number;
  readonly workload: string;
  readonly result: Verdict;
  /** Why the run failed; empty when ok. */
  readonly reason: string;
  readonly invariant: string | undefined;
  readonly traceHash: string;
  readonly traceFile: string | undefined;
  readonly events: number;
  readonly traceLines: number;
  readonly simTimeMs: number;
  readonly wallMs: number;
  readonly faultsInjected: FaultCounts;
  readonly invariantsChecked: number;
  readonly stats: Record<string, number>;
  readonly config: RunConfig;
  readonly plan: FaultPlan;
  /** Trace lines (header first), when `keepLines` was set. */
  readonly lines: string[] | undefined;
}

/** How often the liveness condition is polled, in virtual ms. */
const livenessPollMs = 50;
export const nodesMax = 1000;
export const durationMsMax = 3_600_000;
export const opsMax = 1_000_000;

/** Fills defaults from the workload and validates every field, naming it and its range. */
export function resolveConfig(partial: Partial<RunConfig> & { seed: number; workload?: string }): RunConfig {
  const name = partial.workload ?? 'broadcast';
  const workload = getWorkload(name);
  if (workload === undefined) throw new DistError('E_SIM_CONFIG', `workload must be one of ${workloadNames().join(', ')}, got ${name}`, { field: 'workload' });
  const d = workload.defaults;
  const config: RunConfig = {
    seed: partial.seed,
    workload: name,
    nodes: partial.nodes ?? d.nodes,
    durationMs: partial.durationMs ?? d.durationMs,
    livenessMsMax: partial.livenessMsMax ?? d.livenessMsMax,
    ops: partial.ops ?? d.ops,
    faults: partial.faults ?? 'none',
    ...(partial.plan !== undefined ? { plan: partial.plan } : {}),
  };
  checkInt('seed', config.seed, 0, Number.MAX_SAFE_INTEGER);
  checkInt('nodes', config.nodes, 1, nodesMax);
  checkInt('durationMs', config.durationMs, 1, durationMsMax);
  checkInt('livenessMsMax', config.livenessMsMax, 1, durationMsMax);
  checkInt('ops', config.ops, 0, opsMax);
  if (!profileNames.includes(config.faults)) {
    throw new DistError('E_SIM_CONFIG', `faults must be one of ${profileNames.join(', ')}, got ${String(config.faults)}`, { field: 'faults' });
  }
  return config;
}

function checkInt(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DistError('E_SIM_CONFIG', `${field} must be an integer in [${min}, ${max}], got ${String(value)}`, { field });
  }
}

export function nodeIdsFor(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

/** The plan a config runs: its explicit plan, or one drawn from its profile with the seed. */
export function planFor(config: RunConfig): FaultPlan {
  if (config.plan !== undefined) return config.plan;
  return drawPlan(config.faults, SimRandom.root(config.seed).fork('plan'), nodeIdsFor(config.nodes), config.durationMs);
}

/** The default trace path for a run: traces/runs/<workload>-<seed>-<faults>.ndjson. */
export function defaultTraceFile(config: RunConfig): string {
  return path.join('traces', 'runs', `${config.workload}-${config.seed}-${config.faults}.ndjson`);
}

export function runScenario(config: RunConfig, options: RunOptions = {}): RunResult {
  const startedMs = performance.now();
  const workload = getWorkload(config.workload) as Workload;
  assert(workload !== undefined, `resolveConfig first: unknown workload ${config.workload}`);
  const nodeIds = nodeIdsFor(config.nodes);
  const plan = planFor(config);
  validatePlan(plan, nodeIds);
  const memory = options.keepLines === true ? new MemorySink() : undefined;
  const sink: TraceSink | undefined = options.traceFile !== undefined ? teeSinks(new FileSink(options.traceFile), memory) : memory;
  const { plan: _omit, ...headerConfig } = config;
  const sim = new Simulation({
    seed: config.seed,
    plan,
    nodeIds,
    ...(sink !== undefined ? { trace: sink } : {}),
    header: { config: { ...headerConfig } },
    ...(options.eventsMax !== undefined ? { eventsMax: options.eventsMax } : {}),
  });
  for (const id of nodeIds) sim.addNode(id, workload.program, workload.nodeArgs(nodeIds, id, config.ops));
  const run = workload.create({ sim, random: SimRandom.root(config.seed).fork('workload'), nodeIds, durationMs: config.durationMs, ops: config.ops });
  let invariantsChecked = 0;
  const stopOn = (violation: Violation | undefined): void => {
    if (violation !== undefined) sim.stopWith({ kind: 'violation', invariant: violation.invariant, message: violation.message });
  };
  sim.onStep = (node) => {
    invariantsChecked++;
    stopOn(run.checkStep(node));
  };
  run.start();
  stopOn(run.checkAll());

  sim.runUntil(config.durationMs);
  let verdict: { result: Verdict; reason: string; invariant: string | undefined } | undefined;
  if (sim.halt === undefined) {
    sim.heal();
    verdict = livenessPhase(sim, run, config, () => invariantsChecked++);
  }
  if (sim.halt !== undefined) verdict = verdictOfHalt(sim);
  const final = verdict ?? { result: 'ok' as Verdict, reason: '', invariant: undefined };
  const result: RunResult = {
    seed: config.seed,
    workload: config.workload,
    result: final.result,
    reason: final.reason,
    invariant: final.invariant,
    traceHash: sim.traceHash,
    traceFile: options.traceFile,
    events: sim.events,
    traceLines: sim.traceLines,
    simTimeMs: sim.now,
    wallMs: Math.round(performance.now() - startedMs),
    faultsInjected: { ...sim.faults },
    invariantsChecked,
    stats: run.stats(),
    config,
    plan,
    lines: memory?.lines,
  };
  // The end line carries only deterministic fields (no wall time), so replays can compare it whole.
  sim.finish({ result: result.result, reason: result.reason, events: result.events, simTimeMs: result.simTimeMs, faultsInjected: result.faultsInjected });
  return result;
}

function livenessPhase(sim: Simulation, run: ReturnType<Workload['create']>, config: RunConfig, countCheck: () => void): { result: Verdict; reason: string; invariant: undefined } | undefined {
  const deadlineMs = config.durationMs + config.livenessMsMax;
  // Bounded: one poll per livenessPollMs of virtual time until the deadline.
  for (let t = sim.now; sim.halt === undefined; ) {
    countCheck();
    const violation = run.checkAll();
    if (violation !== undefined) {
      sim.stopWith({ kind: 'violation', invariant: violation.invariant, message: violation.message });
      return undefined;
    }
    if (run.isLive()) {
      sim.traceEvent('sim', 'live', {});
      return undefined;
    }
    if (t >= deadlineMs) return { result: 'liveness', reason: `after ${config.livenessMsMax} ms healed: ${run.livenessReport()}`, invariant: undefined };
    t = Math.min(deadlineMs, t + livenessPollMs);
    sim.runUntil(t);
  }
  return undefined;
}

function verdictOfHalt(sim: Simulation): { result: Verdict; reason: string; invariant: string | undefined } {
  const halt = sim.halt;
  assert(halt !== undefined, 'verdictOfHalt without a halt');
  switch (halt.kind) {
    case 'violation':
      return { result: 'safety', reason: `${halt.invariant}: ${halt.message}`, invariant: halt.invariant };
    case 'node-threw':
      return { result: 'safety', reason: `node ${halt.node} threw ${halt.code}: ${halt.message}`, invariant: 'node-threw' };
    case 'budget':
      return { result: 'liveness', reason: halt.message, invariant: undefined };
  }
}

function teeSinks(a: TraceSink, b: TraceSink | undefined): TraceSink {
  if (b === undefined) return a;
  return {
    line: (text) => {
      a.line(text);
      b.line(text);
    },
    close: () => {
      a.close();
      b.close();
    },
  };
}
