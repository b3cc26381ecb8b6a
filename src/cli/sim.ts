#!/usr/bin/env node
/**
 * `npm run sim -- ...`: run the deterministic simulator.
 *
 *   --seed N [--faults none|light|heavy] [--workload W] [--nodes N] [--duration MS] [--ops N]
 *            [--liveness MS] [--trace FILE | --no-trace] [--json]     one run, readable summary
 *   --plan FILE ...                                                  a fault plan of one's own (JSON) instead of a profile's
 *   --seeds A-B ...                                                  sweep seeds with a progress bar
 *   --replay FILE [--json]                                           rerun a trace, compare its hash
 *   --check-determinism --seed N ...                                 run twice, name the first divergence
 *   --shrink --workload W [--runs N]                                 search, shrink, save to traces/regressions
 *   --list                                                           list workloads
 *
 * Exit codes: 0 ok, 1 safety violation, 2 liveness failure, 3 the simulator itself failed (including a
 * replay whose hash differs and a determinism check that diverged).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DistError, hasCode } from '../lib/errors.js';
import { quietPlan, totalFaults, type FaultCounts, type FaultPlan, type ProfileName } from '../sim/faults.js';
import { checkDeterminism, replayTrace, type Divergence } from '../sim/replay.js';
import { defaultTraceFile, resolveConfig, runScenario, type RunConfig, type RunResult, type Verdict } from '../sim/run.js';
import { findAndShrink } from '../sim/shrink.js';
import { parseSeedRange, reproCommand, sweep } from '../sim/sweep.js';
import { getWorkload, workloadNames } from '../sim/workload.js';

const exitOk = 0;
const exitSafety = 1;
const exitLiveness = 2;
const exitSimulatorFailed = 3;

const usage = `usage: npm run sim -- [--seed N | --seeds A-B | --replay FILE] [options]
  --seed N               run one seed (default 1)
  --seeds A-B            sweep seeds A..B with a progress bar, list failures with repro commands
  --replay FILE          rerun a trace file and check its hash
  --check-determinism    run the seed twice and name the first diverging event
  --workload NAME        ${workloadNames().join(' | ')} (default broadcast)
  --faults PROFILE       none | light | heavy (default none)
  --plan FILE            run this fault plan (JSON; fields not given are those of a quiet network),
                         e.g. {"pauses": [{"atMs": 3000, "durationMs": 2000, "node": "n2"}]}
  --nodes N              node count (workload default)
  --duration MS          simulated safety phase in ms (workload default)
  --liveness MS          bound on the liveness phase in ms (workload default)
  --ops N                client operations (workload default)
  --trace FILE           trace path (default traces/runs/<workload>-<seed>-<faults>.ndjson)
  --no-trace             do not write a trace file
  --json                 print a one-line JSON summary as the last line of stdout
  --shrink               search scenarios of --workload with fast-check, shrink a failure, save it
                         to traces/regressions/ (--runs N scenarios, default 100)
  --list                 list workloads
exit codes: 0 ok, 1 safety, 2 liveness, 3 simulator failed`;

function exitCodeOf(result: Verdict): number {
  return result === 'ok' ? exitOk : result === 'safety' ? exitSafety : exitLiveness;
}

function intOption(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw Object.assign(new Error(`--${field} must be a non-negative integer, got ${value}`), { code: 'E_SIM_CONFIG' });
  return Number(value);
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' }, seeds: { type: 'string' }, replay: { type: 'string' },
      'check-determinism': { type: 'boolean' }, workload: { type: 'string' }, faults: { type: 'string' },
      nodes: { type: 'string' }, duration: { type: 'string' }, liveness: { type: 'string' }, ops: { type: 'string' },
      trace: { type: 'string' }, 'no-trace': { type: 'boolean' }, json: { type: 'boolean' }, list: { type: 'boolean' },
      shrink: { type: 'boolean' }, runs: { type: 'string' }, plan: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(usage);
    return exitOk;
  }
  if (values.list === true) {
    for (const name of workloadNames()) console.log(`${name.padEnd(20)} ${getWorkload(name)?.description ?? ''}`);
    return exitOk;
  }
  const json = values.json === true;
  if (values.replay !== undefined) return replay(values.replay, json);
  const partial = {
    seed: intOption(values.seed, 'seed') ?? 1,
    ...(values.workload !== undefined ? { workload: values.workload } : {}),
    ...(values.faults !== undefined ? { faults: values.faults as ProfileName } : {}),
    ...optional('nodes', intOption(values.nodes, 'nodes')),
    ...optional('durationMs', intOption(values.duration, 'duration')),
    ...optional('livenessMsMax', intOption(values.liveness, 'liveness')),
    ...optional('ops', intOption(values.ops, 'ops')),
    ...(values.plan !== undefined ? { plan: readPlanFile(values.plan) } : {}),
  };
  planFile = values.plan;
  if (values.shrink === true) return shrinkCommand(partial.workload ?? 'broadcast', intOption(values.runs, 'runs') ?? 100, json);
  const config = resolveConfig(partial);
  if (values.seeds !== undefined) return sweepCommand(config, values.seeds, json);
  if (values['check-determinism'] === true) return determinism(config, json);
  const traceFile = values['no-trace'] === true ? undefined : (values.trace ?? defaultTraceFile(config));
  const run = runScenario(config, traceFile !== undefined ? { traceFile } : {});
  printRun(run, json);
  return exitCodeOf(run.result);
}

/** The file `--plan` named, for repro commands. */
let planFile: string | undefined;

/** A plan file: JSON, the fields it gives over a quiet network's (the simulator validates the result). */
function readPlanFile(file: string): FaultPlan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DistError('E_SIM_CONFIG', `--plan ${file}: ${(err as Error).message}`, { field: 'plan' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DistError('E_SIM_CONFIG', `--plan ${file}: a JSON object of fault plan fields expected`, { field: 'plan' });
  }
  return { ...quietPlan(), profile: 'file', ...(parsed as Partial<FaultPlan>) };
}

function faultsName(config: RunConfig): string {
  return planFile === undefined ? config.faults : `plan ${planFile}`;
}

function repro(run: RunResult, traceFile = run.traceFile): string {
  return reproCommand(run.config, traceFile, planFile);
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function faultsLine(counts: FaultCounts | Record<string, number>): string {
  const fired = Object.entries(counts).filter(([, n]) => n > 0);
  return fired.length === 0 ? 'none' : fired.map(([kind, n]) => `${kind} ${n.toLocaleString('en-US')}`).join(', ');
}

function summaryJson(run: RunResult): Record<string, unknown> {
  return {
    seed: run.seed,
    workload: run.workload,
    faults: run.config.faults,
    nodes: run.config.nodes,
    result: run.result,
    reason: run.reason,
    traceHash: run.traceHash,
    traceFile: run.traceFile ?? null,
    events: run.events,
    simTimeMs: run.simTimeMs,
    wallMs: run.wallMs,
    faultsInjected: run.faultsInjected,
    faultsTotal: totalFaults(run.faultsInjected),
    invariantsChecked: run.invariantsChecked,
    stats: run.stats,
    repro: repro(run),
  };
}

function printRun(run: RunResult, json: boolean, extra: Record<string, unknown> = {}, sourceFile?: string): void {
  const n = (x: number): string => x.toLocaleString('en-US');
  const ratio = run.wallMs > 0 ? Math.round(run.simTimeMs / run.wallMs) : run.simTimeMs;
  const lines = [
    `sim  ${run.workload}  seed ${run.seed}  faults ${faultsName(run.config)}  nodes ${run.config.nodes}`,
    `  result       ${run.result.toUpperCase()}${run.reason === '' ? '' : `  (${run.reason})`}`,
    `  events       ${n(run.events)}   (${n(run.traceLines)} trace lines)`,
    `  sim time     ${n(run.simTimeMs)} ms   wall ${n(run.wallMs)} ms   (sim/wall ${n(ratio)}x, ${n(Math.round(run.events / Math.max(1, run.wallMs) * 1000))} events/s)`,
    `  invariants   ${n(run.invariantsChecked)} checks`,
    `  faults fired ${faultsLine(run.faultsInjected)}`,
    `  workload     ${faultsLine(run.stats)}`,
    `  trace        ${run.traceFile ?? '(not written)'}`,
    `  hash         ${run.traceHash}`,
  ];
  if (run.result !== 'ok') lines.push(`  repro        ${repro(run, sourceFile ?? run.traceFile)}`);
  console.log(lines.join('\n'));
  if (json) console.log(JSON.stringify({ ...summaryJson(run), ...extra }));
}

function printDivergence(d: Divergence): void {
  console.log(`  first divergence at trace line ${d.line}:`);
  console.log(`    expected ${d.expected ?? '(end of trace)'}`);
  console.log(`    actual   ${d.actual ?? '(end of trace)'}`);
}

function replay(file: string, json: boolean): number {
  const result = replayTrace(file);
  printRun(result.run, false, {}, file);
  const status = result.expectedHash === undefined ? 'no recorded hash (truncated trace?)' : result.matches ? `hash matches ${result.expectedHash}` : `HASH DIFFERS: recorded ${result.expectedHash}, replay ${result.run.traceHash}`;
  console.log(`  replay       ${status}`);
  if (result.divergence !== undefined) printDivergence(result.divergence);
  if (json) console.log(JSON.stringify({ ...summaryJson(result.run), replayOf: file, expectedHash: result.expectedHash ?? null, replayMatches: result.matches }));
  return result.matches ? exitCodeOf(result.run.result) : exitSimulatorFailed;
}

function determinism(config: RunConfig, json: boolean): number {
  const result = checkDeterminism(config);
  printRun(result.first, false);
  console.log(`  determinism  ${result.deterministic ? `same trace twice (${result.first.traceHash}, ${result.first.traceLines} lines)` : `DIVERGED: ${result.first.traceHash} vs ${result.second.traceHash}`}`);
  if (result.divergence !== undefined) printDivergence(result.divergence);
  if (json) {
    console.log(JSON.stringify({ ...summaryJson(result.first), deterministic: result.deterministic, secondTraceHash: result.second.traceHash, divergence: result.divergence ?? null }));
  }
  return result.deterministic ? exitOk : exitSimulatorFailed;
}

function sweepCommand(base: RunConfig, seedsText: string, json: boolean): number {
  const [from, to] = parseSeedRange(seedsText);
  const total = to - from + 1;
  const bar = new cliProgress.SingleBar(
    { format: 'sweep [{bar}] {value}/{total} seeds | {failures} failing | eta {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { failures: 0 });
  let failures = 0;
  const result = sweep(base, from, to, (run, done) => {
    if (run.result !== 'ok') failures++;
    bar.update(done, { failures });
  }, planFile);
  bar.stop();
  const n = (x: number): string => x.toLocaleString('en-US');
  console.log(`sweep  ${base.workload}  seeds ${from}-${to}  faults ${faultsName(base)}  nodes ${base.nodes}`);
  console.log(`  ok           ${n(result.ok)} / ${n(result.runs)}`);
  console.log(`  events       ${n(result.events)}   sim ${n(result.simTimeMs)} ms   wall ${n(result.wallMs)} ms`);
  console.log(`  faults fired ${faultsLine(result.faultsInjected)}`);
  if (result.failures.length > 0) {
    console.log(`  failing seeds (${result.failures.length}):`);
    for (const f of result.failures) {
      console.log(`    seed ${f.seed}: ${f.result} (${f.reason})`);
      console.log(`      ${f.repro}`);
    }
  }
  if (json) {
    console.log(JSON.stringify({ workload: base.workload, faults: base.faults, seeds: `${from}-${to}`, runs: result.runs, ok: result.ok, failures: result.failures, events: result.events, simTimeMs: result.simTimeMs, wallMs: result.wallMs, faultsInjected: result.faultsInjected }));
  }
  if (result.failures.some((f) => f.result === 'safety')) return exitSafety;
  return result.failures.length > 0 ? exitLiveness : exitOk;
}

function shrinkCommand(workload: string, runs: number, json: boolean): number {
  resolveConfig({ seed: 0, workload });
  const result = findAndShrink({ workload, runs });
  if (!result.found || result.run === undefined) {
    console.log(`shrink  ${workload}: no failure in ${result.scenariosTried} scenarios`);
    if (json) console.log(JSON.stringify({ workload, found: false, scenariosTried: result.scenariosTried }));
    return exitOk;
  }
  console.log(`shrink  ${workload}: minimal failing scenario after ${result.scenariosTried} runs (incl. shrinks)`);
  printRun(result.run, false);
  console.log(`  saved        ${result.file ?? ''}  (replay: npm run sim -- --replay ${result.file ?? ''})`);
  if (json) console.log(JSON.stringify({ ...summaryJson(result.run), found: true, file: result.file, scenario: result.scenario }));
  return exitCodeOf(result.run.result);
}

function run(): void {
  let code: number;
  try {
    code = main(process.argv.slice(2));
  } catch (err) {
    if (hasCode(err, 'E_SIM_CONFIG') || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      console.error(`sim: ${(err as Error).message}\n${usage}`);
      // A bad command line is not a simulator failure, but it is not a verdict either.
      code = exitSimulatorFailed;
    } else {
      console.error(`sim: the simulator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      code = exitSimulatorFailed;
    }
  }
  process.exitCode = code;
}

run();
