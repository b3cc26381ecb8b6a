/**
 * Seed sweeps: run one configuration over a range of seeds and collect the failures, each with the
 * command that reproduces it.
 */
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { runScenario, type RunConfig, type RunResult, type Verdict } from './run.js';

/** A sweep this long is a typo, not a plan (1000 seeds takes about a minute). */
export const sweepSeedsMax = 1_000_000;

export interface SweepFailure {
  readonly seed: number;
  readonly result: Verdict;
  readonly reason: string;
  readonly traceHash: string;
  readonly repro: string;
}

export interface SweepResult {
  readonly runs: number;
  readonly ok: number;
  readonly failures: SweepFailure[];
  readonly events: number;
  readonly simTimeMs: number;
  readonly wallMs: number;
  readonly faultsInjected: Record<string, number>;
}

/** Parses `A-B` (inclusive) or a single seed. */
export function parseSeedRange(text: string): [number, number] {
  const match = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(text);
  if (match === null) throw new DistError('E_SIM_CONFIG', `seeds must look like 1-1000, got ${text}`, { field: 'seeds' });
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (to < from || to - from + 1 > sweepSeedsMax) {
    throw new DistError('E_SIM_CONFIG', `seeds must be an ascending range of at most ${sweepSeedsMax}, got ${text}`, { field: 'seeds' });
  }
  return [from, to];
}

/** The CLI command that reruns `config`. A config with an explicit plan (shrunk, replayed) cannot be
 * spelled in flags, so it is rerun from its trace file. */
export function reproCommand(config: RunConfig, traceFile?: string, planFile?: string): string {
  if (config.plan !== undefined && traceFile !== undefined) return `npm run sim -- --replay ${traceFile}`;
  const plan = planFile === undefined ? '' : ` --plan ${planFile}`;
  return `npm run sim -- --seed ${config.seed} --workload ${config.workload} --faults ${config.faults}${plan} --nodes ${config.nodes} --duration ${config.durationMs} --ops ${config.ops} --liveness ${config.livenessMsMax}`;
}

/** Runs seeds `from`..`to` of `base`; `planFile` (the file `base.plan` came from) goes into repro commands. */
export function sweep(base: RunConfig, from: number, to: number, onRun?: (run: RunResult, done: number) => void, planFile?: string): SweepResult {
  assert(to >= from, 'empty seed range');
  const failures: SweepFailure[] = [];
  const faultsInjected: Record<string, number> = {};
  let events = 0;
  let simTimeMs = 0;
  let wallMs = 0;
  for (let seed = from; seed <= to; seed++) {
    const config: RunConfig = { ...base, seed };
    const run = runScenario(config);
    events += run.events;
    simTimeMs += run.simTimeMs;
    wallMs += run.wallMs;
    for (const [kind, count] of Object.entries(run.faultsInjected)) faultsInjected[kind] = (faultsInjected[kind] ?? 0) + count;
    if (run.result !== 'ok') failures.push({ seed, result: run.result, reason: run.reason, traceHash: run.traceHash, repro: reproCommand(config, undefined, planFile) });
    onRun?.(run, seed - from + 1);
  }
  const runs = to - from + 1;
  return { runs, ok: runs - failures.length, failures, events, simTimeMs, wallMs, faultsInjected };
}
