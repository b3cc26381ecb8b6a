/**
 * Replay and the determinism check. Both rerun a configuration and compare traces line by line; the
 * first line that differs names the diverging event.
 */
import { DistError } from '../lib/errors.js';
import type { FaultPlan } from './faults.js';
import { resolveConfig, runScenario, type RunConfig, type RunOptions, type RunResult } from './run.js';
import { readTrace } from './trace.js';

export interface Divergence {
  /** 1-based line number in the trace (line 1 is the header). */
  readonly line: number;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
}

export function firstDivergence(expected: readonly string[], actual: readonly string[]): Divergence | undefined {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) return { line: i + 1, expected: expected[i], actual: actual[i] };
  }
  return undefined;
}

/** The run configuration recorded in a trace header, with its concrete plan. */
export function configFromHeader(header: Record<string, unknown>): RunConfig {
  const config = header.config as Partial<RunConfig> | undefined;
  const plan = header.plan as FaultPlan | undefined;
  if (typeof config !== 'object' || config === null || typeof plan !== 'object' || plan === null || typeof header.seed !== 'number') {
    throw new DistError('E_TRACE_HEADER', 'trace header lacks seed, config or plan');
  }
  return resolveConfig({ ...config, seed: header.seed, plan });
}

export interface ReplayResult {
  readonly run: RunResult;
  readonly expectedHash: string | undefined;
  readonly matches: boolean;
  /** Set when the hash differs and the file holds event lines to compare. */
  readonly divergence: Divergence | undefined;
}

/** Reruns the trace's header configuration and plan; compares the hash (and lines, if the file has them). */
export function replayTrace(file: string, options: RunOptions = {}): ReplayResult {
  const trace = readTrace(file);
  const config = configFromHeader(trace.header);
  const withEvents = trace.events.length > 0;
  const run = runScenario(config, { ...options, keepLines: withEvents });
  const expectedHash = typeof trace.end?.traceHash === 'string' ? trace.end.traceHash : undefined;
  const matches = expectedHash === run.traceHash;
  let divergence: Divergence | undefined;
  if (!matches && withEvents && run.lines !== undefined) {
    const recorded = [JSON.stringify(trace.header), ...trace.events];
    // The header line is compared by content, not text: the file's key order is canonical already.
    divergence = firstDivergence(recorded.slice(1), run.lines.slice(1));
    if (divergence !== undefined) divergence = { ...divergence, line: divergence.line + 1 };
  }
  return { run, expectedHash, matches, divergence };
}

export interface DeterminismResult {
  readonly first: RunResult;
  readonly second: RunResult;
  readonly deterministic: boolean;
  readonly divergence: Divergence | undefined;
}

/** Runs `config` twice in this process and compares the traces line by line. */
export function checkDeterminism(config: RunConfig, options: RunOptions = {}): DeterminismResult {
  const first = runScenario(config, { ...options, keepLines: true });
  const second = runScenario(config, { ...options, keepLines: true, traceFile: undefined });
  const divergence = firstDivergence(first.lines ?? [], second.lines ?? []);
  const deterministic = divergence === undefined && first.traceHash === second.traceHash;
  return { first, second, deterministic, divergence };
}
