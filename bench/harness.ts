/**
 * Shared benchmark helpers: time-boxed measurement of operations per second, and a JSON result file
 * under bench/results/. Benchmarks compare against a named peer in the same process and run, and
 * print ratios; they never assert on speed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RootDatabase } from 'lmdb';

/** How long one measurement runs; short enough for CI-sized machines, long enough to leave JIT warm-up behind. */
export const measureMsDefault = Number(process.env.BENCH_MEASURE_MS ?? 400);
const warmupMs = 150;
/** Most operations between two clock reads. */
const batchOpsMax = 64;

export interface Rate {
  readonly opsPerSec: number;
  readonly nsPerOp: number;
}

/**
 * Measures several operations fairly on a shared, possibly busy machine: rounds alternate between them
 * so that load from elsewhere hits all alike, and each one's median round is its rate.
 */
export function measureInterleaved(ops: ReadonlyArray<() => unknown>, rounds = 5, roundMs = measureMsDefault / 2): Rate[] {
  for (const op of ops) runFor(op, warmupMs);
  const samples: number[][] = ops.map(() => []);
  for (let round = 0; round < rounds; round++) {
    ops.forEach((op, i) => {
      const { ops: count, elapsedMs } = runFor(op, roundMs);
      (samples[i] as number[]).push((count / elapsedMs) * 1000);
    });
  }
  return samples.map((rates) => {
    const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
    return { opsPerSec: median, nsPerOp: 1e9 / median };
  });
}

/** Runs `op` repeatedly for about `measureMs` after a warm-up and returns its rate. */
export function measure(op: () => unknown, measureMs = measureMsDefault): Rate {
  runFor(op, warmupMs);
  const { ops, elapsedMs } = runFor(op, measureMs);
  return { opsPerSec: (ops / elapsedMs) * 1000, nsPerOp: (elapsedMs * 1e6) / ops };
}

let sink: unknown;

/** Runs `op` for about `budgetMs`. Operations run in batches between clock reads, so reading the clock
 * does not dominate tiny operations; the batch starts at one and grows only while a batch stays under
 * a millisecond, so a slow operation (a second each) is not run sixteen times past the budget. */
function runFor(op: () => unknown, budgetMs: number): { ops: number; elapsedMs: number } {
  const start = performance.now();
  let ops = 0;
  let batch = 1;
  let now = start;
  while (now - start < budgetMs) {
    const batchStart = now;
    for (let i = 0; i < batch; i++) sink = op();
    ops += batch;
    now = performance.now();
    if (now - batchStart < 1 && batch < batchOpsMax) batch *= 2;
  }
  return { ops, elapsedMs: now - start };
}

/** Keeps the optimiser from dropping benchmarked work whose result is unused. */
export function consumed(): unknown {
  return sink;
}

export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M/s`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)} k/s`;
  return `${opsPerSec.toFixed(1)} /s`;
}

export function ratio(ours: number, peer: number): string {
  return `${(ours / peer).toFixed(2)}x`;
}

export function printTable(rows: ReadonlyArray<Readonly<Record<string, string>>>): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] as object);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => row[c] ?? '')));
}

/** Writes `bench/results/<name>.json` with the machine's description next to the figures. */
export function writeResult(name: string, result: unknown): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const directory = path.join(root, 'bench', 'results');
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `${name}.json`);
  const machine = { node: process.version, platform: process.platform, arch: process.arch, cpus: (globalThis as any).navigator?.hardwareConcurrency ?? null };
  fs.writeFileSync(file, `${JSON.stringify({ name, machine, result }, null, 2)}\n`);
  return file;
}

/** Error-first callback, as the node runtime's services take. */
export type LoopCallback = (err: unknown, value?: unknown) => void;

/**
 * Issues `count` operations through `send` with at most `window` in flight (1 = one after another) and
 * resolves with each one's latency; any failed operation rejects.
 */
export function callLoop(send: (cb: LoopCallback) => void, count: number, window: number): Promise<{ latenciesMs: number[]; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    let started = 0;
    const startMs = performance.now();
    const launch = (): void => {
      const sentMs = performance.now();
      started++;
      send((err) => {
        if (err) return reject(err);
        latenciesMs.push(performance.now() - sentMs);
        if (latenciesMs.length === count) return resolve({ latenciesMs, elapsedMs: performance.now() - startMs });
        if (started < count) launch();
      });
    };
    for (let i = 0; i < Math.min(window, count); i++) launch();
  });
}

/** The `p` quantile (0..1) of latencies in ms, in whole microseconds. */
export function percentileUs(latenciesMs: readonly number[], p: number): number {
  const sorted = [...latenciesMs].sort((x, y) => x - y);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number) * 1000);
}

export function median(values: readonly number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
}

/** Turns an error-first call into a promise of `[err, value]`. */
export function settle(start: (cb: LoopCallback) => void): Promise<[unknown, unknown]> {
  return new Promise((resolve) => start((err, value) => resolve([err ?? null, value])));
}

/** The course's M4 object: five properties. */
export function fiveProperties(i: number): Record<string, unknown> {
  return { first: `first-${i}`, last: `last-${i}`, age: 20 + (i % 50), city: `city-${i % 97}`, active: i % 2 === 0 };
}

export type Put = (key: string, value: unknown, done: (err: unknown) => void) => void;

/** `keysCount` puts of `fiveProperties` (shifted by `round`) with at most `window` in flight; ms until the
 * last is acknowledged. */
export function putFiveProperties(put: Put, round: number, keysCount: number, window: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let finished = 0;
    const startMs = performance.now();
    const launch = (): void => {
      const i = started++;
      put(`key-${i}`, fiveProperties(i + round), (err) => {
        if (err) return reject(err);
        if (++finished === keysCount) return resolve(performance.now() - startMs);
        if (started < keysCount) launch();
      });
    };
    for (let i = 0; i < Math.min(window, keysCount); i++) launch();
  });
}

/** Raw lmdb committing as our disk does under noSync: one run's puts in one `transactionSync`, each
 * value through `encode` first (identity: lmdb's own msgpack). */
export function syncCommitPut<V>(db: RootDatabase<V, string>, encode: (value: unknown) => V = (value) => value as V): Put {
  let queued: [string, V, (err: unknown) => void][] = [];
  const commit = (): void => {
    const batch = queued;
    queued = [];
    let failure: unknown = null;
    try {
      db.transactionSync(() => {
        for (const [key, value] of batch) db.putSync(key, value);
      });
    } catch (err) {
      failure = err;
    }
    for (const [, , done] of batch) done(failure);
  };
  return (key, value, done) => {
    if (queued.push([key, encode(value), done]) === 1) queueMicrotask(commit);
  };
}
