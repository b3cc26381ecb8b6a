/**
 * The course's M5 workloads on MapReduce, ours against the reference implementation
 * (@brown-ds/distribution), in items (input records) per second of `mr.exec`:
 *   maximum temperature per year   (weather records "station year ... temperature ...")
 *   average word length            (per initial letter, over documents)
 *   character frequency            (over documents)
 * Both run the identical map and reduce functions over the identical data on three worker processes on
 * loopback, driven by a coordinator node: ours on the real runtime (bench/mr-cluster.ts), the reference
 * as `distribution.js` processes it spawns itself (bench/mr-reference-driver.cjs). Loading the store is
 * timed apart. Results are checked to be equal, and each against a sequential run of the same functions
 * in this process (so a difference names the side that is wrong). Ours also runs a 10x larger input
 * (checked against the sequential run too).
 * Run: `npm run build && npm run bench:mr-m5`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { execJob, type MrOptions } from '../src/protocols/mapreduce/index.js';
import type { DistNode } from '../src/protocols/node/index.js';
import { printTable, ratio, writeResult } from './harness.js';
import { load, startCluster, stopCluster, workerIds, type Doc } from './mr-cluster.js';

const repoRoot = join(fileURLToPath(import.meta.url), '..', '..', '..');
const recordsCount = Number(process.env.BENCH_M5_RECORDS ?? 300);
const docsCount = Number(process.env.BENCH_M5_DOCS ?? 40);
const largeFactor = 10;

/** Deterministic data (an LCG with a fixed seed). */
function lcg(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}

function weather(count: number): Doc[] {
  const next = lcg(7);
  return Array.from({ length: count }, (_, i) => {
    const temp = next(800) - 300;
    const sign = temp < 0 ? '-' : '+';
    return [`r${i}`, `00670119909999${next(10)} ${1950 + next(40)} 0515070049999999N9 ${sign}${String(Math.abs(temp)).padStart(4, '0')} 1+9999`];
  });
}

const vocabulary = 'the quick brown fox jumps over a lazy dog while map reduce shuffle partitions keys values nodes in distributed systems'.split(' ');
function documents(count: number): Doc[] {
  const next = lcg(11);
  return Array.from({ length: count }, (_, i) => [`doc${i}`, Array.from({ length: 40 }, () => vocabulary[next(vocabulary.length)]).join(' ')]);
}

interface Workload {
  readonly name: string;
  readonly data: (n: number) => Doc[];
  readonly size: number;
  readonly map: (key: string, value: string) => unknown;
  readonly reduce: (key: string, values: number[]) => unknown;
}

const workloads: Workload[] = [
  {
    name: 'max temperature per year', data: weather, size: recordsCount,
    map: (_key, value) => { const parts = value.split(' '); return { [parts[1] as string]: parseInt(parts[3] as string, 10) }; },
    reduce: (year, temps) => ({ [year]: Math.max(...temps) }),
  },
  {
    name: 'average word length', data: documents, size: docsCount,
    map: (_key, text) => text.split(' ').map((w) => ({ [w[0] as string]: w.length })),
    reduce: (letter, lengths) => ({ [letter]: Math.round((lengths.reduce((a, b) => a + b, 0) / lengths.length) * 1e6) / 1e6 }),
  },
  {
    name: 'character frequency', data: documents, size: docsCount,
    map: (_key, text) => { const out: Record<string, number>[] = []; for (const c of text) if (c !== ' ') out.push({ [c]: 1 }); return out; },
    reduce: (c, ones) => ({ [c]: ones.reduce((a, b) => a + b, 0) }),
  },
];

const options: Partial<MrOptions> = { tickMs: 20, mapTaskKeysMax: 256, partitionsPerMember: 2 };

function canonical(results: unknown): string {
  const pairs: [string, unknown][] = [];
  for (const r of results as Record<string, unknown>[]) for (const k of Object.keys(r)) pairs.push([k, r[k]]);
  return JSON.stringify(pairs.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The same map and reduce run sequentially here: map every record, group by key, reduce per key. */
function sequential(w: Workload, data: readonly Doc[]): unknown[] {
  const groups = new Map<string, number[]>();
  for (const [key, value] of data) {
    const out = w.map(key, value as string);
    for (const o of (Array.isArray(out) ? out : [out]) as Record<string, number>[]) for (const k of Object.keys(o)) groups.set(k, [...(groups.get(k) ?? []), o[k] as number]);
  }
  return [...groups].map(([k, vs]) => w.reduce(k, vs));
}

function ours(node: DistNode, gid: string, w: Workload, keys: string[]): Promise<{ ms: number; results: unknown }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    execJob(node, gid, workerIds, { keys, map: w.map, reduce: w.reduce }, (err, results) => (err !== null ? reject(err) : resolve({ ms: performance.now() - start, results })), options);
  });
}

/** The first of `count` consecutive free ports below the ephemeral range (the reference needs fixed ports). */
async function freePorts(count: number): Promise<number> {
  const free = (port: number): Promise<boolean> => new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error('no free ports for the reference');
}

class Reference {
  private waiting: ((reply: Record<string, unknown>) => void) | undefined;
  private constructor(private readonly child: ChildProcess, readonly cwd: string) {
    child.on('message', (reply: Record<string, unknown>) => this.waiting?.(reply));
  }

  static async start(): Promise<Reference> {
    const cwd = mkdtempSync(join(tmpdir(), 'distribution-bench-m5-ref-'));
    const config = { ip: '127.0.0.1', port: await freePorts(workerIds.length + 1) };
    const child = fork(join(repoRoot, 'bench', 'mr-reference-driver.cjs'), [JSON.stringify({ config, workers: workerIds.length })], { cwd, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    const ref = new Reference(child, cwd);
    await ref.request(undefined);
    return ref;
  }

  request(message: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting = (reply) => (reply.type === 'error' ? reject(new Error(String(reply.message))) : resolve(reply));
      if (message !== undefined) this.child.send(message);
    });
  }

  /** SIGTERM: the driver stops the nodes it spawned (they outlive it otherwise), then exits. */
  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
    rmSync(this.cwd, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster();
  const reference = await Reference.start();
  const rows: Record<string, string>[] = [];
  const figures: Record<string, unknown> = {};
  try {
    for (const [i, w] of workloads.entries()) {
      const data = w.data(w.size);
      const keys = data.map(([k]) => k);
      await load(cluster.node, `m5-${i}`, data, workerIds, 1);
      const mine = await ours(cluster.node, `m5-${i}`, w, keys);
      const ref = await reference.request({ type: 'run', name: w.name, data, map: w.map.toString(), reduce: w.reduce.toString() });
      const large = w.data(w.size * largeFactor);
      await load(cluster.node, `m5-${i}-large`, large, workerIds, 1);
      const big = await ours(cluster.node, `m5-${i}-large`, w, large.map(([k]) => k));
      const equal = canonical(mine.results) === canonical(ref.results);
      const expected = canonical(sequential(w, data));
      const oursRight = canonical(mine.results) === expected && canonical(big.results) === canonical(sequential(w, large));
      const referenceRight = canonical(ref.results) === expected;
      const ourRate = (w.size / mine.ms) * 1000;
      const refRate = (w.size / (ref.execMs as number)) * 1000;
      rows.push({
        workload: w.name, items: String(w.size), 'ours items/s': ourRate.toFixed(0), 'reference items/s': refRate.toFixed(0), 'ours/reference': ratio(ourRate, refRate),
        [`ours, ${largeFactor}x items/s`]: ((large.length / big.ms) * 1000).toFixed(0), 'same output': String(equal),
        'ours = sequential': String(oursRight), 'reference = sequential': String(referenceRight),
      });
      figures[w.name] = { items: w.size, oursMs: mine.ms, referenceMs: ref.execMs, referenceLoadMs: ref.loadMs, oursItemsPerSec: ourRate, referenceItemsPerSec: refRate, speedup: ourRate / refRate, largeItems: large.length, largeMs: big.ms, equal, oursRight, referenceRight };
    }
  } finally {
    await reference.close();
    await stopCluster(cluster);
  }
  printTable(rows);
  process.stdout.write(`wrote ${writeResult('mr-m5', figures)}\n`);
}

await main();
