/**
 * MapReduce word count over a real text corpus, on the real runtime: worker processes on loopback
 * (child processes running the `node` program, each with its own LMDB), driven by a coordinator node
 * in this process. Same run, same input:
 *   - coreutils: `LC_ALL=C tr -cs A-Za-z '\n' | LC_ALL=C sort | uniq -c` over the concatenated corpus;
 *   - a single-process JavaScript count (split on non-letters, one Map);
 *   - `mr.exec` word count on 1, 2 and 3 workers (input spread over them, intermediates in mem);
 *   - the same job on 3 workers with every chunk on 2 of them, clean and with one worker SIGKILLed
 *     half-way (the launcher's exit event plays the failure detector: `job.nodeDown`), in pairs: a
 *     clean run, then a run killed at half its time, then the worker restarts on its store; the
 *     figure is the median of the pairs' ratios.
 * Every MapReduce answer is checked to equal the single-process count (and that count to coreutils').
 * Each job's CPU time (workers from /proc, the coordinator from process.cpuUsage) is printed next to
 * its wall time: on a shared machine the wall time moves with other load, the CPU time much less.
 *
 * Corpus: the HTML (tags, scripts and styles stripped) and reST sources of Debian's python3.11-doc,
 * installed here with apt-get when missing (as root; otherwise the command is printed). Word = maximal
 * run of ASCII letters, case kept (what `tr -cs A-Za-z` splits on). Throughput = corpus bytes / job
 * time; loading the store is not timed, nor is one warm-up job per configuration (the first job on a
 * worker process pays its JIT compilation). Run: `npm run build && npm run bench:mapreduce`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LaunchedNode } from '../src/runtime/index.js';
import { load, restartWorker, startCluster, stopCluster, workerIds, type Cluster } from './mr-cluster.js';

type TextDoc = [string, string];
import { execJob, type Job, type MrOptions, type MrSpec } from '../src/protocols/mapreduce/index.js';
import { printTable, ratio, writeResult } from './harness.js';

const docRoot = '/usr/share/doc/python3.11/html';
const corpusBytesMin = 20 * 1024 * 1024;
/** Store values stay far below the store's 512 KiB value limit. */
const chunkCharsMax = 128 * 1024;
const runsPerConfig = Number(process.env.BENCH_MR_RUNS ?? 3);
/** Worker counts to time (BENCH_MR_WORKERS=3 to run one); the kill run always uses all three. */
const workerCounts = (process.env.BENCH_MR_WORKERS ?? '1,2,3').split(',').map(Number);

// ------------------------------------------------------------------ corpus

function ensureDocs(): void {
  if (existsSync(docRoot)) return;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`corpus missing: run as root: apt-get update && apt-get install -y python3.11-doc\n`);
    process.exit(2);
  }
  process.stdout.write('installing python3.11-doc (apt-get) ...\n');
  const install = () => spawnSync('apt-get', ['install', '-y', 'python3.11-doc'], { stdio: 'ignore' }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    if (!install()) throw new Error('apt-get install -y python3.11-doc failed');
  }
}

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, out);
    else if (name.endsWith('.html') || name.endsWith('.txt')) out.push(path);
  }
  return out;
}

function stripHtml(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(nbsp|amp|lt|gt|quot|#39|para|#x27);/g, ' ');
}

/** Documents of at most chunkCharsMax characters (split at a space), in file order. */
function loadCorpus(): { docs: TextDoc[]; bytes: number; file: string } {
  ensureDocs();
  const docs: TextDoc[] = [];
  let bytes = 0;
  for (const path of filesUnder(docRoot)) {
    const raw = readFileSync(path, 'utf8');
    const text = path.endsWith('.html') ? stripHtml(raw) : raw;
    for (let i = 0, part = 0; i < text.length; part++) {
      let end = Math.min(text.length, i + chunkCharsMax);
      if (end < text.length) end = Math.max(text.lastIndexOf(' ', end) + 1, i + 1);
      docs.push([`${path.slice(docRoot.length + 1)}#${part}`, text.slice(i, end)]);
      i = end;
    }
    bytes += Buffer.byteLength(text);
  }
  if (bytes < corpusBytesMin) throw new Error(`corpus is ${bytes} bytes, under ${corpusBytesMin}`);
  const file = join(tmpdir(), 'distribution-mr-corpus.txt');
  writeFileSync(file, docs.map(([, t]) => t).join('\n'));
  return { docs, bytes, file };
}

// ------------------------------------------------------------------ peers

function coreutilsCount(file: string): { ms: number; counts: Map<string, number> } {
  const start = performance.now();
  const run = spawnSync('sh', ['-c', `LC_ALL=C tr -cs A-Za-z '\\n' < ${file} | LC_ALL=C sort | uniq -c`], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const ms = performance.now() - start;
  if (run.status !== 0) throw new Error(`coreutils pipeline failed: ${run.stderr}`);
  const counts = new Map<string, number>();
  for (const line of run.stdout.split('\n')) {
    const m = /^\s*(\d+) ([A-Za-z]+)$/.exec(line);
    if (m !== null) counts.set(m[2] as string, Number(m[1]));
  }
  return { ms, counts };
}

function jsCount(docs: readonly TextDoc[]): { ms: number; counts: Map<string, number> } {
  const start = performance.now();
  const counts = new Map<string, number>();
  for (const [, text] of docs) for (const w of text.split(/[^A-Za-z]+/)) if (w !== '') counts.set(w, (counts.get(w) ?? 0) + 1);
  return { ms: performance.now() - start, counts };
}

// ------------------------------------------------------------------ the job

/** In-mapper combining: one `{word: count}` object per document (COURSE-API allows any object). */
const wordCount = (keys: string[]): MrSpec => ({
  keys,
  memory: true,
  map: (_doc: string, text: string) => {
    const counts: Record<string, number> = Object.create(null);
    for (const w of text.split(/[^A-Za-z]+/)) if (w !== '') counts[w] = (counts[w] ?? 0) + 1;
    return counts;
  },
  compact: (w: string, counts: number[]) => ({ [w]: counts.reduce((a, b) => a + b, 0) }),
  reduce: (w: string, counts: number[]) => ({ [w]: counts.reduce((a, b) => a + b, 0) }),
});

const options: Partial<MrOptions> = {
  partitionsPerMember: 4, mapTaskKeysMax: 24, taskTimeoutMs: 60_000, backupAfterMs: 0, batchPairsMax: 20_000,
  budget: { callMsMax: 60_000, taskMsMax: 120_000 }, locateCallMs: 10_000, shuffleCallMs: 2_000,
};

/** CPU milliseconds a process has used (user + system), from /proc; undefined where there is none. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100); // clock ticks, USER_HZ = 100 on Linux
}

type JobRun = { ms: number; cpuMs: number; counts: Map<string, number> };

/** `onStart` gets the job and `sampleCpu`, to call right before killing a worker (a dead process's
 * CPU time is gone from /proc; its last sample counts). */
function runJob(cluster: Cluster, gid: string, members: readonly string[], keys: string[], onStart?: (job: Job, sampleCpu: () => void) => void): Promise<JobRun> {
  const pids = [...cluster.workers.values()].map((w) => w.child.pid);
  const last = new Map<number | undefined, number>();
  const cpu = (): number => {
    for (const pid of pids) last.set(pid, processCpuMs(pid) ?? last.get(pid) ?? 0);
    return [...last.values()].reduce((a, b) => a + b, 0);
  };
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const [workersCpu0, selfCpu0] = [cpu(), process.cpuUsage()];
    const job = execJob(cluster.node, gid, members, wordCount(keys), (err, value) => {
      if (err !== null) return reject(err);
      const ms = performance.now() - start;
      const self = process.cpuUsage(selfCpu0);
      const counts = new Map<string, number>();
      for (const r of value as Record<string, number>[]) for (const k in r) counts.set(k, r[k] as number);
      resolve({ ms, cpuMs: cpu() - workersCpu0 + (self.user + self.system) / 1000, counts });
    }, options);
    if (job !== undefined) onStart?.(job, () => void cpu());
  });
}

function sameCounts(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mbps = (bytes: number, ms: number): number => bytes / 1024 / 1024 / (ms / 1000);

async function main(): Promise<void> {
  const corpus = loadCorpus();
  const keys = corpus.docs.map(([k]) => k);
  process.stdout.write(`corpus: ${corpus.docs.length} documents, ${(corpus.bytes / 1024 / 1024).toFixed(1)} MiB (${corpus.file})\n`);
  const coreutils = coreutilsCount(corpus.file);
  const js = jsCount(corpus.docs);
  const jsAgrees = sameCounts(js.counts, coreutils.counts);
  const cluster = await startCluster();
  const rows: Record<string, string>[] = [];
  const figures: Record<string, unknown> = { cpus: availableParallelism(), loadAverage: loadavg(), corpusBytes: corpus.bytes, documents: corpus.docs.length, distinctWords: js.counts.size, jsEqualsCoreutils: jsAgrees };
  const row = (name: string, ms: number, correct: boolean | string, cpuMs?: number): void => {
    rows.push({ run: name, seconds: (ms / 1000).toFixed(2), 'CPU s': cpuMs === undefined ? '' : (cpuMs / 1000).toFixed(2), 'MB/s': mbps(corpus.bytes, ms).toFixed(1), 'vs coreutils': ratio(coreutils.ms, ms), output: String(correct) });
  };
  row('coreutils tr|sort|uniq -c', coreutils.ms, 'reference');
  row('JavaScript, one process', js.ms, jsAgrees ? 'equal' : 'DIFFERS');
  try {
    const clean: number[] = [];
    for (const n of workerCounts) {
      const members = workerIds.slice(0, n);
      await load(cluster.node, `wc${n}`, corpus.docs, members, 1);
      // Untimed: a worker's first job compiles the map path (JIT); every config gets one such run.
      await runJob(cluster, `wc${n}`, members, keys);
      const times: number[] = [];
      const cpus: number[] = [];
      let equal = true;
      for (let r = 0; r < runsPerConfig; r++) {
        const result = await runJob(cluster, `wc${n}`, members, keys);
        times.push(result.ms);
        cpus.push(result.cpuMs);
        equal &&= sameCounts(result.counts, js.counts);
      }
      clean.push(median(times));
      row(`mr.exec, ${n} worker${n > 1 ? 's' : ''}`, median(times), equal ? 'equal' : 'DIFFERS', median(cpus));
      figures[`workers${n}`] = { msMedian: median(times), runsMs: times, cpuMsMedian: median(cpus), runsCpuMs: cpus, mbps: mbps(corpus.bytes, median(times)), equal };
    }
    await load(cluster.node, 'wcr', corpus.docs, workerIds, 2);
    await runJob(cluster, 'wcr', workerIds, keys); // warms the three workers on this gid
    const replicatedRuns: JobRun[] = [];
    const killedRuns: JobRun[] = [];
    for (let r = 0; r < runsPerConfig; r++) {
      const clean = await runJob(cluster, 'wcr', workerIds, keys);
      replicatedRuns.push(clean);
      killedRuns.push(await runJob(cluster, 'wcr', workerIds, keys, (job, sampleCpu) => {
        setTimeout(() => {
          sampleCpu();
          const victim = cluster.workers.get('w3') as LaunchedNode;
          victim.child.once('exit', () => job.nodeDown('w3'));
          victim.child.kill('SIGKILL');
        }, clean.ms / 2);
      }));
      await restartWorker(cluster, 'w3');
      await runJob(cluster, 'wcr', workerIds, keys); // warms the new w3, so the next clean run is not its first
    }
    const ratios = killedRuns.map((k, i) => k.ms / (replicatedRuns[i] as JobRun).ms);
    const byMs = (runs: JobRun[]): JobRun => [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)] as JobRun;
    const [replicated, killed] = [byMs(replicatedRuns), byMs(killedRuns)];
    row('mr.exec, 3 workers, 2 copies', replicated.ms, replicatedRuns.every((r) => sameCounts(r.counts, js.counts)) ? 'equal' : 'DIFFERS', replicated.cpuMs);
    const killedEqual = killedRuns.every((k) => sameCounts(k.counts, js.counts));
    row('  same, w3 killed half-way', killed.ms, killedEqual ? 'equal' : 'DIFFERS', killed.cpuMs);
    Object.assign(figures, {
      coreutilsMs: coreutils.ms, jsMs: js.ms,
      ...(clean.length === 3 ? {
        speedup1to2: (clean[0] as number) / (clean[1] as number), speedup1to3: (clean[0] as number) / (clean[2] as number),
        twoWorkersVsCoreutils: coreutils.ms / (clean[1] as number), threeWorkersVsCoreutils: coreutils.ms / (clean[2] as number),
      } : {}),
      replicatedMs: replicated.ms, replicatedRunsMs: replicatedRuns.map((r) => r.ms), killedMs: killed.ms, killedRunsMs: killedRuns.map((r) => r.ms),
      killedOverCleanRuns: ratios, killedOverClean: median(ratios), killedEqual,
    });
  } finally {
    await stopCluster(cluster);
  }
  printTable(rows);
  if (figures.speedup1to2 !== undefined) process.stdout.write(`speedup 1 -> 2 workers: ${(figures.speedup1to2 as number).toFixed(2)}x (target 1.6x); 1 -> 3: ${(figures.speedup1to3 as number).toFixed(2)}x\n`);
  figures.loadAverageAfter = loadavg();
  process.stdout.write(`machine: ${availableParallelism()} cpus, load average ${(figures.loadAverage as number[]).map((l) => l.toFixed(1)).join(' ')} before, ${loadavg().map((l) => l.toFixed(1)).join(' ')} after\n`);
  process.stdout.write(`kill half-way: ${(figures.killedOverClean as number).toFixed(2)}x the clean run, median of ${(figures.killedOverCleanRuns as number[]).map((x) => x.toFixed(2)).join(', ')} (target <= 1.25x), output ${figures.killedEqual ? 'identical' : 'DIFFERENT'}\n`);
  process.stdout.write(`wrote ${writeResult('mapreduce', figures)}\n`);
}

await main();
