/**
 * The mapreduce workload and its checker: every node runs the `mr` program (src/protocols/mapreduce).
 * A client runs three jobs back to back, over and over, from a random live node, while the plan
 * crashes, partitions, drops and fails disk writes, and the workload itself crashes a worker
 * (not the coordinator) shortly after every job starts during the fault phase:
 *   word count       over `docs` (each document on 2 nodes), with a combiner, intermediates in mem;
 *   inverted index   over `docs`, outputs written to group `index` (`out`);
 *   PageRank-shaped  3 rounds over `web` (each page on 1 node), intermediates in store.
 * A sequential reference of each job (the same functions, run in order in this process) is the answer.
 *
 * Safety, checked as jobs answer: mapreduce.output: a job that succeeds answers exactly the reference
 * (no missing, extra or different key); mapreduce.coded-error: a job that fails, fails with an E_MR_*
 * or E_GROUP_* code. Liveness, after healing: each of the three jobs succeeds once more, and the
 * `index` group's stores hold exactly the reference index.
 * Mutant `mapreduce-drop-batch`: a worker that under-reports one shuffle batch of partition 0, so the
 * reducer silently skips it; the output checker must catch it.
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { createMrNode, execJob, type Job, type MrNodeHandle, type MrOptions, type MrSpec } from '../../protocols/mapreduce/index.js';
import { sidOf, type Callback, type Service } from '../../protocols/node/index.js';
import type { SimRandom } from '../random.js';
import { registerWorkload, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

const docsCount = 24;
const pagesCount = 12;
const vocabulary = ['map', 'reduce', 'shuffle', 'key', 'value', 'node', 'crash', 'store', 'group', 'round', 'task', 'batch', 'page', 'rank', 'link', 'word'];
/** Jobs resubmitted after a failure or a crashed coordinator; a bound on the client's retries. */
const submitsMax = 200;
const pollMs = 250;
const jobOptions: Partial<MrOptions> = {
  taskTimeoutMs: 1_500, backupAfterMs: 600, tickMs: 100, suspectMs: 1_000, attemptsMax: 12, locateCallMs: 400, locateAttemptsMax: 12, shuffleCallMs: 400, batchPairsMax: 8, mapTaskKeysMax: 4,
};

/** A fixed corpus and link graph (an LCG with a constant seed: the input is part of the workload). */
function corpus(): { docs: Record<string, string>; pages: Record<string, { rank: number; links: string[]; n: number }> } {
  let x = 12345;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const docs: Record<string, string> = {};
  for (let d = 0; d < docsCount; d++) docs[`doc${String(d).padStart(2, '0')}`] = Array.from({ length: 5 + next(20) }, () => vocabulary[next(vocabulary.length)]).join(' ');
  const pages: Record<string, { rank: number; links: string[]; n: number }> = {};
  for (let p = 0; p < pagesCount; p++) {
    const links = [...new Set(Array.from({ length: 1 + next(3) }, () => `p${next(pagesCount)}`))].sort();
    pages[`p${p}`] = { rank: 1 / pagesCount, links, n: pagesCount };
  }
  return { docs, pages };
}

const input = corpus();

interface JobDef {
  readonly name: string;
  readonly gid: string;
  readonly input: Record<string, unknown>;
  readonly spec: MrSpec;
}

const jobs: readonly JobDef[] = [
  {
    name: 'wordcount', gid: 'docs', input: input.docs,
    spec: {
      keys: Object.keys(input.docs), memory: true,
      map: (_doc: string, text: string) => text.split(' ').map((w) => ({ [w]: 1 })),
      compact: (w: string, ones: number[]) => ({ [w]: ones.reduce((a, b) => a + b, 0) }),
      reduce: (w: string, counts: number[]) => ({ [w]: counts.reduce((a, b) => a + b, 0) }),
    },
  },
  {
    name: 'index', gid: 'docs', input: input.docs,
    spec: {
      keys: Object.keys(input.docs), out: 'index',
      map: (doc: string, text: string) => [...new Set(text.split(' '))].map((w) => ({ [w]: doc })),
      reduce: (w: string, docs: string[]) => ({ [w]: [...docs].sort() }),
    },
  },
  {
    name: 'pagerank', gid: 'web', input: input.pages,
    spec: {
      keys: Object.keys(input.pages), rounds: 3,
      map: (page: string, v: { rank: number; links: string[]; n: number }) => [
        { [page]: { links: v.links, n: v.n } },
        ...v.links.map((l) => ({ [l]: { share: v.rank / v.links.length } })),
      ],
      reduce: (page: string, vs: { links?: string[]; n?: number; share?: number }[]) => {
        const shape = vs.find((v) => v.links !== undefined) ?? { links: [], n: 1 };
        const shares = vs.filter((v) => v.share !== undefined).map((v) => v.share as number).sort((a, b) => a - b);
        const n = shape.n as number;
        return { [page]: { rank: 0.15 / n + 0.85 * shares.reduce((a, b) => a + b, 0), links: shape.links, n } };
      },
    },
  },
];

/** The sequential reference: every key in order, map, group in order, reduce in key order; rounds chained. */
export function sequentialReference(spec: MrSpec, data: Record<string, unknown>): Record<string, unknown> {
  let current = new Map(Object.entries(data).filter(([k]) => spec.keys.includes(k)));
  for (let round = 0; round < (spec.rounds ?? 1); round++) {
    const groups = new Map<string, unknown[]>();
    for (const key of [...current.keys()].sort()) {
      const out = spec.map(key, current.get(key)) as Record<string, unknown> | Record<string, unknown>[];
      for (const obj of Array.isArray(out) ? out : [out]) for (const [k, v] of Object.entries(obj)) groups.set(k, [...(groups.get(k) ?? []), v]);
    }
    const next = new Map<string, unknown>();
    for (const k of [...groups.keys()].sort()) for (const [ok, ov] of Object.entries(spec.reduce(k, groups.get(k)) as object)) next.set(ok, ov);
    current = next;
  }
  return Object.fromEntries([...current].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function asSorted(results: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: [string, unknown][] = [];
  for (const r of results) for (const k of Object.keys(r)) out.push([k, r[k]]);
  return Object.fromEntries(out.sort(([a], [b]) => (a < b ? -1 : 1)));
}

const references = jobs.map((j) => JSON.stringify(sequentialReference(j.spec, j.input)));

interface Submission {
  readonly job: number;
  coordinator?: Job | undefined;
  readonly from: NodeId;
  readonly incarnation: number;
  done: boolean;
}

class MapReduceRun implements WorkloadRun {
  private violation: Violation | undefined;
  private current: Submission | undefined;
  private next = 0;
  private submits = 0;
  private healed = false;
  /** Jobs that succeeded since healing, by job index. */
  private readonly liveOk = new Set<number>();
  private readonly counts = { jobsOk: 0, jobsFailed: 0, resubmitted: 0, workersCrashed: 0, backups: 0, reduceBackups: 0, reexecutions: 0, reassigned: 0, timeouts: 0, nodesDown: 0 };

  constructor(private readonly ctx: WorkloadContext) {}

  private handle(id: NodeId): MrNodeHandle | undefined {
    return this.ctx.sim.inspect(id) as MrNodeHandle | undefined;
  }

  start(): void {
    this.ctx.sim.at(100, () => this.poll());
  }

  /** Every pollMs: start the next job when none runs, or resubmit one whose coordinator crashed. */
  private poll(): void {
    const sub = this.current;
    const lost = sub !== undefined && !sub.done && this.ctx.sim.incarnation(sub.from) !== sub.incarnation;
    if (lost) this.counts.resubmitted++;
    if ((sub === undefined || sub.done || lost) && this.submits < submitsMax && !(this.healed && this.liveOk.size === jobs.length)) this.submit();
    this.ctx.sim.at(this.ctx.sim.now + pollMs, () => this.poll());
  }

  private submit(): void {
    const { sim, random, nodeIds } = this.ctx;
    const live = nodeIds.filter((id) => sim.isUp(id));
    if (live.length === 0) return;
    const from = random.pick(live);
    const index = this.next % jobs.length;
    const def = jobs[index] as JobDef;
    const sub: Submission = { job: index, from, incarnation: sim.incarnation(from), done: false };
    this.current = sub;
    this.submits++;
    const handle = this.handle(from) as MrNodeHandle;
    sim.traceEvent(from, 'client.mr-exec', { job: def.name });
    const spec = { ...def.spec, options: jobOptions };
    sub.coordinator = execJob(handle.node, def.gid, nodeIds, spec, (err, value) => this.onAnswer(sub, err, value));
    if (!this.healed) this.crashWorker(from, random);
  }

  /** Crashes one worker (not the coordinator) shortly after the job starts; it restarts later. */
  private crashWorker(coordinator: NodeId, random: SimRandom): void {
    const { sim, nodeIds } = this.ctx;
    const workers = nodeIds.filter((id) => id !== coordinator);
    if (workers.length === 0) return; // a one-node cluster has no worker to crash
    const victim = random.pick(workers);
    const atMs = sim.now + random.int(1, 8); // a fault-free job takes ~10 virtual ms: crash mid-job
    const downMs = random.int(200, 2_500);
    sim.at(atMs, () => {
      if (!sim.isUp(victim) || this.healed) return;
      this.counts.workersCrashed++;
      sim.crash(victim);
      sim.at(sim.now + downMs, () => sim.restart(victim));
    });
  }

  private onAnswer(sub: Submission, err: Error | null, value: unknown): void {
    if (sub.done) return void (this.violation ??= { invariant: 'mapreduce.answered-once', message: `job ${jobs[sub.job]?.name} answered twice` });
    sub.done = true;
    const s = sub.coordinator?.stats;
    if (s !== undefined) for (const k of ['backups', 'reduceBackups', 'reexecutions', 'reassigned', 'timeouts', 'nodesDown'] as const) this.counts[k] += s[k];
    if (err !== null) {
      this.counts.jobsFailed++;
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !/^E_(MR|GROUP)_/.test(code)) this.violation ??= { invariant: 'mapreduce.coded-error', message: `${jobs[sub.job]?.name} failed with ${String(code)}: ${err.message}` };
      return;
    }
    const got = JSON.stringify(asSorted(value as Record<string, unknown>[]));
    if (got !== references[sub.job]) {
      this.violation ??= { invariant: 'mapreduce.output', message: `${jobs[sub.job]?.name} answered ${got.slice(0, 300)}, reference ${references[sub.job]?.slice(0, 300)}` };
      return;
    }
    this.counts.jobsOk++;
    if (this.healed) this.liveOk.add(sub.job);
    this.next++;
  }

  checkStep(): Violation | undefined {
    return this.violation;
  }

  checkAll(): Violation | undefined {
    return this.violation;
  }

  /** The `index` group's stores, merged: what `out` wrote. */
  private storedIndex(): string {
    const merged: [string, unknown][] = [];
    for (const id of this.ctx.nodeIds) {
      const store = this.handle(id)?.engines.store;
      for (const k of store?.keys('index') ?? []) merged.push([k, store?.get('index', k)?.value]);
    }
    return JSON.stringify(Object.fromEntries(merged.sort(([a], [b]) => (a < b ? -1 : 1))));
  }

  isLive(): boolean {
    this.healed = true;
    if (this.liveOk.size < jobs.length) return false;
    const stored = this.storedIndex();
    if (stored !== references[1]) this.violation ??= { invariant: 'mapreduce.out', message: `index group holds ${stored.slice(0, 300)}` };
    return true;
  }

  livenessReport(): string {
    return `jobs ok since healing: ${[...this.liveOk].map((j) => jobs[j]?.name).join(',') || 'none'}; submits ${this.submits}`;
  }

  stats(): Record<string, number> {
    return { ...this.counts, submits: this.submits };
  }
}

function nodeArgs(nodeIds: readonly NodeId[], id: NodeId): unknown {
  const group = Object.fromEntries(nodeIds.map((n) => [sidOf(n), { ip: n, port: 0 }]));
  const at = nodeIds.indexOf(id);
  const n = nodeIds.length;
  const seed: [string, string, unknown][] = [];
  Object.keys(input.docs).sort().forEach((k, i) => {
    if (i % n === at || (i + 1) % n === at) seed.push(['docs', k, input.docs[k]]);
  });
  Object.keys(input.pages).sort().forEach((k, i) => {
    if (i % n === at) seed.push(['web', k, input.pages[k]]);
  });
  // SWIM membership as the jobs' failure detector, fast enough to declare a worker crashed for a
  // second or two dead while a job still runs (jobs then see nodeDown, and false deaths under heavy
  // faults, on top of their deadlines).
  const membership = { seeds: nodeIds.slice(0, 3), probeIntervalMs: 200, ackTimeoutMs: 80, suspicionTimeoutMs: 400, gossipIntervalMs: 100, syncIntervalMs: 2_000 };
  return { groups: ['docs', 'web', 'index'].map((config) => ({ config, group })), seed, callTimeoutMs: 300, antiEntropyMs: 0, membership };
}

/** The mutant: `map` answers one batch fewer for partition 0, so that batch is silently skipped. */
function createDropBatchNode(env: Env, args: unknown): NodeProgram {
  const program = createMrNode(env, args);
  const service = (program.inspect?.() as MrNodeHandle).node.services.get('mr') as Service;
  const map = service.map as (req: unknown, cb: Callback) => void;
  service.map = (req: unknown, cb: Callback) => map(req, (err, value) => {
    const batches = (value as { batches?: [number, number][] } | undefined)?.batches;
    const zero = batches?.find(([p, count]) => p === 0 && count > 0);
    if (zero !== undefined) zero[1]--;
    cb(err, value);
  });
  return program;
}

function mrWorkload(name: string, program: Workload['program'], description: string, mutant = false): Workload {
  return {
    name, description, program, mutant,
    defaults: { nodes: 5, durationMs: 10_000, ops: 0, livenessMsMax: 60_000 },
    nodeArgs,
    create: (ctx) => new MapReduceRun(ctx),
  };
}

registerWorkload(mrWorkload('mapreduce', createMrNode, 'word count, inverted index and 3-round PageRank under faults and worker crashes: output equals a sequential reference'));
registerWorkload(mrWorkload('mapreduce-drop-batch', createDropBatchNode, 'mutant: a worker under-reports one shuffle batch; the output checker must fail', true));
