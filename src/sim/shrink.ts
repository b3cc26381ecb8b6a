/**
 * Shrinking: fast-check generates whole scenarios (node count, operation count, seed and a concrete
 * fault plan), runs each in the simulator, and when one fails shrinks it towards fewer nodes, fewer
 * operations, lower rates and fewer scheduled faults. The minimal failing scenario is written to
 * `traces/regressions/` as a plan file (a trace header and end line, no events), which `--replay` and
 * the regression test rerun forever.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import type { ClogFault, CrashFault, FaultPlan, PartitionFault, PauseFault, SlowNodeFault } from './faults.js';
import { nodeIdsFor, resolveConfig, runScenario, type RunConfig, type RunResult } from './run.js';

export const regressionsDir = path.join('traces', 'regressions');
/** Generated scenarios use at most this many nodes: enough for partitions to have two real sides. */
const scenarioNodesMax = 5;
/** Rates are drawn in per-mille so shrunk plans read as round numbers. */
const perMilleMax = 300;
/** Largest extra delay a generated slow node adds to what it receives. */
const slowLagMsMax = 2_000;

interface RawPlan {
  readonly latencyMsMax: number;
  readonly lossPerMille: number;
  readonly duplicatePerMille: number;
  readonly reorderPerMille: number;
  readonly diskFailPerMille: number;
  readonly partitions: readonly { atMs: number; durationMs: number; oneWay: boolean; side: number }[];
  readonly clogs: readonly { atMs: number; durationMs: number; from: number; to: number }[];
  readonly crashes: readonly { atMs: number; node: number; downMs: number }[];
  readonly slowNodes: readonly { atMs: number; durationMs: number; node: number; lagMs: number }[];
  readonly pauses: readonly { atMs: number; durationMs: number; node: number }[];
}

export interface Scenario {
  readonly seed: number;
  readonly nodes: number;
  readonly ops: number;
  readonly plan: FaultPlan;
}

function rawPlanArbitrary(durationMs: number): fc.Arbitrary<RawPlan> {
  const at = fc.integer({ min: 0, max: Math.max(0, durationMs - 1) });
  const span = fc.integer({ min: 1, max: durationMs });
  const index = fc.integer({ min: 0, max: scenarioNodesMax - 1 });
  const perMille = fc.integer({ min: 0, max: perMilleMax });
  return fc.record({
    latencyMsMax: fc.integer({ min: 1, max: 100 }),
    lossPerMille: perMille,
    duplicatePerMille: perMille,
    reorderPerMille: perMille,
    diskFailPerMille: perMille,
    partitions: fc.array(fc.record({ atMs: at, durationMs: span, oneWay: fc.boolean(), side: index }), { maxLength: 4 }),
    clogs: fc.array(fc.record({ atMs: at, durationMs: span, from: index, to: index }), { maxLength: 4 }),
    crashes: fc.array(fc.record({ atMs: at, node: index, downMs: span }), { maxLength: 4 }),
    slowNodes: fc.array(fc.record({ atMs: at, durationMs: span, node: index, lagMs: fc.integer({ min: 1, max: slowLagMsMax }) }), { maxLength: 2 }),
    pauses: fc.array(fc.record({ atMs: at, durationMs: span, node: index }), { maxLength: 2 }),
  });
}

/** Turns raw generated numbers into a valid plan for `nodes` nodes (indices wrap around). */
function concretePlan(nodes: number, raw: RawPlan): FaultPlan {
  const ids = nodeIdsFor(nodes);
  const id = (i: number): NodeId => ids[i % nodes] as NodeId;
  const partitions: PartitionFault[] = nodes < 2 ? [] : raw.partitions.map((p) => ({ atMs: p.atMs, durationMs: p.durationMs, kind: p.oneWay ? 'one-way' : 'two-way', side: [id(p.side)] }));
  const clogs: ClogFault[] = raw.clogs.filter((c) => id(c.from) !== id(c.to)).map((c) => ({ atMs: c.atMs, durationMs: c.durationMs, from: id(c.from), to: id(c.to) }));
  const crashes: CrashFault[] = raw.crashes.map((c) => ({ atMs: c.atMs, node: id(c.node), downMs: c.downMs }));
  const slowNodes: SlowNodeFault[] = raw.slowNodes.map((f) => ({ atMs: f.atMs, durationMs: f.durationMs, node: id(f.node), lagMs: f.lagMs }));
  const pauses: PauseFault[] = raw.pauses.map((f) => ({ atMs: f.atMs, durationMs: f.durationMs, node: id(f.node) }));
  return {
    profile: 'generated',
    latencyMsMin: 1,
    latencyMsMax: raw.latencyMsMax,
    latencyTailChance: 0,
    latencyTailMsMax: 0,
    lossChance: raw.lossPerMille / 1000,
    duplicateChance: raw.duplicatePerMille / 1000,
    reorderChance: raw.reorderPerMille / 1000,
    reorderDelayMsMax: raw.reorderPerMille > 0 ? 100 : 0,
    diskWriteMsMin: 1,
    diskWriteMsMax: 5,
    diskSlowChance: 0,
    diskSlowMsMax: 0,
    diskFailChance: raw.diskFailPerMille / 1000,
    clocks: [],
    partitions,
    clogs,
    crashes,
    // Left out when empty, as in profile plans.
    ...(slowNodes.length === 0 ? {} : { slowNodes }),
    ...(pauses.length === 0 ? {} : { pauses }),
  };
}

export function scenarioArbitrary(durationMs: number, opsMax: number): fc.Arbitrary<Scenario> {
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      nodes: fc.integer({ min: 1, max: scenarioNodesMax }),
      ops: fc.integer({ min: 1, max: opsMax }),
      raw: rawPlanArbitrary(durationMs),
    })
    .map(({ seed, nodes, ops, raw }) => ({ seed, nodes, ops, plan: concretePlan(nodes, raw) }));
}

export function scenarioConfig(workload: string, durationMs: number, scenario: Scenario): RunConfig {
  return resolveConfig({ workload, seed: scenario.seed, nodes: scenario.nodes, ops: scenario.ops, durationMs, faults: 'none', plan: scenario.plan });
}

export interface ShrinkOptions {
  readonly workload: string;
  readonly durationMs?: number;
  readonly opsMax?: number;
  /** Scenarios to try before giving up. */
  readonly runs?: number;
  /** fast-check's own seed, so the search itself is reproducible. */
  readonly searchSeed?: number;
  /** Where to write the minimal plan; default traces/regressions. Undefined file means none found. */
  readonly dir?: string;
}

export interface ShrinkResult {
  readonly found: boolean;
  readonly scenario: Scenario | undefined;
  readonly run: RunResult | undefined;
  readonly file: string | undefined;
  readonly scenariosTried: number;
}

/** Searches for a failing scenario of `workload`, shrinks it, and writes the minimal plan file. */
export function findAndShrink(options: ShrinkOptions): ShrinkResult {
  const durationMs = options.durationMs ?? 3_000;
  const config = (s: Scenario): RunConfig => scenarioConfig(options.workload, durationMs, s);
  const details = fc.check(
    fc.property(scenarioArbitrary(durationMs, options.opsMax ?? 20), (s) => runScenario(config(s)).result === 'ok'),
    { numRuns: options.runs ?? 100, seed: options.searchSeed ?? 1 },
  );
  if (!details.failed || details.counterexample === null) {
    return { found: false, scenario: undefined, run: undefined, file: undefined, scenariosTried: details.numRuns };
  }
  const scenario = details.counterexample[0];
  const dir = options.dir ?? regressionsDir;
  const probe = runScenario(config(scenario));
  const file = path.join(dir, `${options.workload}-${probe.result}-${probe.traceHash}.ndjson`);
  const run = runScenario(config(scenario), { traceFile: file });
  rewriteAsPlanFile(file);
  assert(run.traceHash === probe.traceHash, 'a rerun of the same scenario must give the same hash');
  return { found: true, scenario, run, file, scenariosTried: details.numRuns + details.numShrinks };
}

/** Keeps only the header and end lines of a trace: the plan and the expected hash, no events. */
function rewriteAsPlanFile(file: string): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  assert(lines.length >= 2, 'a finished trace has a header and an end line');
  fs.writeFileSync(file, `${lines[0]}\n${lines[lines.length - 1]}\n`);
}
