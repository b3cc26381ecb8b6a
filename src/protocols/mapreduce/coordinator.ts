/**
 * The Env-bound MapReduce coordinator (the paper's master, §3.1-§3.2): validates a spec, locates the
 * input keys on the group's members, and drives one RoundTable (core.ts) per round: it starts the
 * attempts the table asks for, feeds answers back, and polls the table every `tickMs` so deadlines and
 * backups fire. Round i+1 maps the outputs round i left on its reducers, where they are (no data comes
 * back to the coordinator until the last round's reduce answers). At the end it asks every member to
 * drop the job's intermediates and answers `(null, results)` or one coded error.
 */
import type { Env, Millis, NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import type { Callback } from '../node/index.js';
import type { Rpc } from './access.js';
import { RoundTable, keysNamedMax, partitionsMax, type Action, type MapAction, type ReduceAction, type RoundConfig, type Source } from './core.js';
import type { Columns } from './user.js';
import { outputGid, shuffleCallMsDefault, shuffleGid, shuffleSendsMax, type ReduceAnswer, type UserBudget } from './worker.js';

/** What COURSE-API's `exec(spec)` takes. */
export interface MrSpec {
  readonly keys: readonly string[];
  readonly map: Function;
  readonly reduce: Function;
  readonly compact?: Function;
  readonly out?: string;
  readonly memory?: boolean;
  readonly rounds?: number;
}

export interface MrOptions {
  readonly partitionsPerMember: number;
  /** Keys in one map task: smaller tasks re-execute faster and balance better (§3.5). */
  readonly mapTaskKeysMax: number;
  /** Map attempts one worker runs at once (§3.2): the rest wait at the coordinator and go to the first
   * holder with a free slot, so work moves to whoever is idle. A worker answers a task once its
   * batches are acknowledged, and a receiver acknowledges only between its own tasks: four keep one
   * task computing while up to three wait for acknowledgements (two left workers idle in measurements). */
  readonly mapSlotsPerNode: number;
  readonly attemptsMax: number;
  readonly taskTimeoutMs: Millis;
  readonly backupAfterMs: Millis;
  readonly suspectMs: Millis;
  readonly tickMs: Millis;
  readonly batchPairsMax: number;
  readonly budget: UserBudget;
  readonly locateAttemptsMax: number;
  readonly locateCallMs: Millis;
  readonly shuffleCallMs: Millis;
}

export const roundsMax = 1_000;
export const mrOptionsDefault: MrOptions = {
  partitionsPerMember: 2,
  mapTaskKeysMax: 256,
  mapSlotsPerNode: 4,
  attemptsMax: 8,
  taskTimeoutMs: 20_000,
  backupAfterMs: 5_000,
  suspectMs: 2_000,
  tickMs: 250,
  batchPairsMax: 2_000,
  budget: { callMsMax: 10_000, taskMsMax: 60_000 },
  locateAttemptsMax: 8,
  locateCallMs: 1_000,
  shuffleCallMs: shuffleCallMsDefault,
};

/** A failure detector as the membership protocol offers one: `onChange` fires on every change of this
 * node's view of another member and answers an unsubscribe function. A job counts `dead` and `left`
 * as down (a `suspect` may be refuted; deadlines cover it meanwhile). */
export interface FailureDetector {
  onChange(listener: (nodeId: NodeId, state: string, incarnation: number) => void): () => void;
}

export interface CoordinatorHost {
  readonly env: Env;
  readonly rpc: Rpc;
  /** When set, the job reports the detector's verdicts on its members to itself (`nodeDown`). */
  readonly detector?: FailureDetector | undefined;
}

/** Checks a spec once, up front; the error names the field. */
export function checkSpec(spec: unknown): DistError | undefined {
  const bad = (field: string, wanted: string): DistError => new DistError('E_MR_BAD_SPEC', `spec.${field} must be ${wanted}`, { field });
  if (typeof spec !== 'object' || spec === null) return bad('', 'an object {keys, map, reduce, ...}');
  const s = spec as Record<string, unknown>;
  if (!Array.isArray(s.keys) || !s.keys.every((k) => typeof k === 'string')) return bad('keys', 'an array of strings');
  if (typeof s.map !== 'function') return bad('map', 'a function (key, value) => {k: v} | [{k: v}]');
  if (typeof s.reduce !== 'function') return bad('reduce', 'a function (key, values) => {k: v}');
  if (s.compact !== undefined && s.compact !== null && typeof s.compact !== 'function') return bad('compact', 'a function');
  if (s.out !== undefined && s.out !== null && (typeof s.out !== 'string' || s.out.length === 0)) return bad('out', 'a gid');
  if (s.memory !== undefined && typeof s.memory !== 'boolean') return bad('memory', 'a boolean');
  if (s.rounds !== undefined && (!Number.isInteger(s.rounds) || (s.rounds as number) < 1 || (s.rounds as number) > roundsMax)) return bad('rounds', `an integer in [1, ${roundsMax}]`);
  return undefined;
}

type Located = { readonly holders: Map<string, NodeId[]>; readonly silent: NodeId[] };

export class Job {
  private round = 0;
  private table: RoundTable | undefined;
  private ticker: number | undefined;
  private finished = false;
  private unwatch: (() => void) | undefined;
  private readonly partitions: number;
  private reducers: readonly NodeId[];
  readonly stats = { rounds: 0, mapAttempts: 0, reduceAttempts: 0, backups: 0, reduceBackups: 0, timeouts: 0, reexecutions: 0, reassigned: 0, nodesDown: 0 };

  constructor(
    private readonly host: CoordinatorHost,
    readonly id: string,
    private readonly gid: string,
    private readonly members: readonly NodeId[],
    private readonly spec: MrSpec,
    private readonly options: MrOptions,
    private readonly callback: Callback,
  ) {
    assert(members.length >= 1, 'a job needs members');
    this.partitions = Math.min(partitionsMax, members.length * options.partitionsPerMember);
    this.reducers = members;
  }

  start(): void {
    this.host.env.trace.event('mr.job-start', { job: this.id, gid: this.gid, keys: this.spec.keys.length, members: this.members.length });
    this.unwatch = this.host.detector?.onChange((node, state) => {
      if ((state === 'dead' || state === 'left') && this.members.includes(node)) this.nodeDown(node);
    });
    this.locate((located) => {
      const unplaced = this.spec.keys.filter((k) => !located.holders.has(k));
      if (unplaced.length > 0) return this.finish(missingError(this.gid, unplaced, located.silent));
      // Reducers start on members that answered; silent ones get partitions only if all are silent.
      const answered = this.members.filter((n) => !located.silent.includes(n));
      if (answered.length > 0) this.reducers = answered;
      this.startRound(this.firstSources(located.holders));
    });
  }

  /** A failure detector (membership, or a launcher that saw the process die) says `node` is down:
   * its attempts fail now and its partitions move, instead of waiting for deadlines (§3.3). */
  nodeDown(node: NodeId): void {
    if (this.finished) return;
    this.host.env.trace.event('mr.node-down', { job: this.id, node });
    this.stats.nodesDown++;
    this.host.rpc.peerDown(node);
    const scope = { job: this.id, round: this.round, attemptMax: this.table?.attemptsStarted ?? 0 };
    for (const member of this.members) if (member !== node) this.host.rpc.call(member, 'down', [node, scope], this.options.locateCallMs, () => undefined);
    this.table?.nodeDown(node, this.host.env.clock.now());
    this.drive();
  }

  // ------------------------------------------------------------------ locate

  /** Asks every member which of the job's keys it holds, retrying silent members (bounded). Once every
   * key has a holder, members still silent get one more locateCallMs to answer (they may hold replicas,
   * which re-execution can use), then the job goes on without them. */
  private locate(onDone: (located: Located) => void): void {
    const wanted = new Set(this.spec.keys);
    const holders = new Map<string, NodeId[]>();
    const answered = new Set<NodeId>();
    /** Members whose every attempt went unanswered. Counting them is what ends a locate in which two
     * or more members fall silent (crashed, partitioned, or slow to read their input). */
    const silent = new Set<NodeId>();
    let decided = false;
    const decide = (): void => {
      if (decided) return;
      decided = true;
      onDone({ holders, silent: this.members.filter((n) => !answered.has(n)) });
    };
    for (const node of this.members) {
      this.askKeys(node, 1, (keys) => {
        if (decided) return;
        if (keys === undefined) silent.add(node);
        else answered.add(node);
        for (const k of keys ?? []) if (wanted.has(k)) holders.set(k, [...(holders.get(k) ?? []), node]);
        if (answered.size + silent.size === this.members.length) return decide();
        if (keys !== undefined && holders.size === wanted.size) this.host.env.timers.set(this.options.locateCallMs, decide);
      });
    }
  }

  private askKeys(node: NodeId, attempt: number, onDone: (keys: string[] | undefined) => void): void {
    this.host.rpc.call(node, 'keys', [this.gid], this.options.locateCallMs, (err, keys) => {
      if (err === null && Array.isArray(keys)) return onDone(keys as string[]);
      if (attempt >= this.options.locateAttemptsMax || this.finished) return onDone(undefined);
      this.host.env.timers.set(this.options.tickMs, () => this.askKeys(node, attempt + 1, onDone));
    });
  }

  /** Round 0's map tasks: keys grouped by the set of nodes holding them, in sorted key order, cut into
   * tasks of at most mapTaskKeysMax keys (§3.5 task granularity). */
  private firstSources(holders: Map<string, NodeId[]>): Source[] {
    const byNodes = new Map<string, string[]>();
    for (const key of [...holders.keys()].sort()) {
      const nodes = (holders.get(key) as NodeId[]).sort().join('\n');
      byNodes.set(nodes, [...(byNodes.get(nodes) ?? []), key]);
    }
    const sources: Source[] = [];
    let group = 0;
    for (const [joined, keys] of [...byNodes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const nodes = rotate(joined.split('\n'), group++);
      for (let i = 0; i < keys.length; i += this.options.mapTaskKeysMax) {
        sources.push({ gid: this.gid, keys: keys.slice(i, i + this.options.mapTaskKeysMax), nodes, engine: 'store' });
      }
    }
    return sources;
  }

  // ------------------------------------------------------------------ rounds

  private startRound(sources: readonly Source[]): void {
    const o = this.options;
    const config: RoundConfig = {
      partitions: this.partitions, members: this.reducers, attemptsMax: o.attemptsMax, taskTimeoutMs: o.taskTimeoutMs, backupAfterMs: o.backupAfterMs, suspectMs: o.suspectMs,
      mapSlotsPerNode: o.mapSlotsPerNode,
    };
    const table = new RoundTable(config);
    for (const source of sources) table.addMapTask(source);
    this.table = table;
    this.drive();
  }

  private drive(): void {
    const table = this.table;
    if (this.finished || table === undefined) return;
    for (const action of table.poll(this.host.env.clock.now())) this.dispatch(table, action);
    const outcome = table.outcome();
    if (outcome.kind === 'running') return this.scheduleTick();
    this.collect(table);
    if (outcome.kind === 'failed') return this.finish(outcome.error);
    this.host.env.trace.event('mr.round-done', { job: this.id, round: this.round });
    if (this.round + 1 < this.rounds) return this.nextRound(table);
    this.finish(null, outcome.results.flatMap((r) => asObjects((r as { results: Columns }).results)));
  }

  private get rounds(): number {
    return this.spec.rounds ?? 1;
  }

  /** Round i+1 maps, on each partition's producer, the outputs round i kept there (in place). */
  private nextRound(done: RoundTable): void {
    const engine = this.spec.memory === true ? 'mem' : 'store';
    const sources: Source[] = [];
    for (let p = 0; p < this.partitions; p++) sources.push({ gid: outputGid(this.id, this.round, p), keys: null, nodes: [done.producerOf(p)], engine });
    this.round++;
    this.startRound(sources);
  }

  private scheduleTick(): void {
    if (this.ticker !== undefined) return;
    this.ticker = this.host.env.timers.set(this.options.tickMs, () => {
      this.ticker = undefined;
      this.drive();
    });
  }

  private dispatch(table: RoundTable, action: Action): void {
    this.host.env.trace.event('mr.attempt', { job: this.id, round: this.round, kind: action.kind, attempt: action.attempt, node: action.node, ...(action.kind === 'map' ? { task: action.task, backup: action.backup } : { partition: action.partition }) });
    if (action.kind === 'map') this.startMap(table, action);
    else this.startReduce(table, action);
  }

  private startMap(table: RoundTable, a: MapAction): void {
    const o = this.options;
    const req = {
      job: this.id, round: this.round, task: a.task, attempt: a.attempt, source: a.source, partitions: a.partitions, partitionCount: this.partitions, owners: a.owners, copies: a.copies,
      map: this.spec.map, compact: this.spec.compact ?? null, batchPairsMax: o.batchPairsMax, memory: this.spec.memory === true, budget: o.budget,
      // Every send of every batch must fit in the attempt's deadline, so a dead owner fails the
      // shipment (and moves the partition) rather than the map task.
      shuffleCallMs: Math.max(1, Math.min(o.shuffleCallMs, Math.floor(o.taskTimeoutMs / (shuffleSendsMax + 1)))),
    };
    this.host.rpc.call(a.node, 'map', [req], o.taskTimeoutMs, (err, value) => {
      if (table !== this.table) return;
      const nowMs = this.host.env.clock.now();
      if (err !== null) table.mapFailed(a.task, a.attempt, asDistError(err), nowMs);
      else {
        table.mapSucceeded(a.task, a.attempt, batchCounts(value, this.partitions), batchCounts(value, this.partitions, 'copied'));
        for (const [p, node] of failedShipments(value)) table.shuffleFailed(p, node, nowMs);
      }
      this.drive();
    });
  }

  private startReduce(table: RoundTable, a: ReduceAction): void {
    const final = this.round + 1 === this.rounds;
    const req = {
      job: this.id, round: this.round, partition: a.partition, manifest: a.manifest, reduce: this.spec.reduce, memory: this.spec.memory === true, final,
      out: final ? (this.spec.out ?? null) : null, budget: this.options.budget,
    };
    this.host.rpc.call(a.node, 'reduce', [req], this.options.taskTimeoutMs, (err, value) => {
      if (table !== this.table) return;
      const answer = value as ReduceAnswer | undefined;
      if (err !== null) table.reduceFailed(a.partition, a.attempt, asDistError(err), this.host.env.clock.now());
      else if (answer !== undefined && 'missing' in answer) table.reduceMissing(a.partition, a.attempt, answer.missing);
      else table.reduceSucceeded(a.partition, a.attempt, answer);
      this.drive();
    });
  }

  // ------------------------------------------------------------------ end

  private collect(table: RoundTable): void {
    this.stats.rounds++;
    for (const k of Object.keys(table.stats) as (keyof RoundTable['stats'])[]) this.stats[k] += table.stats[k];
  }

  private finish(err: DistError | null, results?: unknown[]): void {
    if (this.finished) return;
    this.finished = true;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.ticker !== undefined) this.host.env.timers.cancel(this.ticker);
    this.table = undefined;
    this.host.env.trace.event(err === null ? 'mr.job-done' : 'mr.job-failed', { job: this.id, ...(err === null ? { results: results?.length ?? 0 } : { code: err.code }), ...this.stats });
    this.dropIntermediates();
    if (err !== null) return this.callback(err);
    this.callback(null, results);
  }

  /** Best effort: a member that misses this keeps the job's intermediates until a later drop. */
  private dropIntermediates(): void {
    const gids: string[] = [];
    for (let r = 0; r <= this.round; r++) for (let p = 0; p < this.partitions; p++) gids.push(shuffleGid(this.id, r, p), outputGid(this.id, r, p));
    for (const node of this.members) this.host.rpc.call(node, 'drop', [this.id, gids], this.options.locateCallMs, () => undefined);
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function batchCounts(value: unknown, partitions: number, field: 'batches' | 'copied' = 'batches'): number[] {
  const counts: number[] = [];
  const pairs = (value as Record<string, unknown> | null)?.[field];
  if (!Array.isArray(pairs)) return counts;
  for (const [p, count] of pairs as [number, number][]) if (Number.isInteger(p) && p >= 0 && p < partitions) counts[p] = count;
  return counts;
}

/** A reducer's columns as COURSE-API's answer: one `{k: v}` object per key. */
function asObjects({ keys, values }: Columns): Record<string, unknown>[] {
  assert(Array.isArray(keys) && Array.isArray(values) && keys.length === values.length, 'reduce answers one value per key');
  return keys.map((k, i) => ({ [k]: values[i] }));
}

/** The partitions a map attempt could not deliver, with the owner it tried. */
function failedShipments(value: unknown): [number, NodeId][] {
  const failed = (value as { failed?: unknown } | null)?.failed;
  if (!Array.isArray(failed)) return [];
  return (failed as unknown[]).filter((f): f is [number, NodeId] => Array.isArray(f) && Number.isInteger(f[0]) && typeof f[1] === 'string');
}

function asDistError(err: Error): DistError {
  if (err instanceof DistError) return err;
  const code = (err as { code?: unknown }).code;
  const details = (err as { details?: unknown }).details;
  return new DistError(typeof code === 'string' ? code : 'E_MR_REMOTE', err.message, typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {}, { cause: err });
}

function missingError(gid: string, keys: readonly string[], silent: readonly NodeId[]): DistError {
  const named = `${keys.length} keys of ${gid} (${keys.slice(0, keysNamedMax).join(', ')}${keys.length > keysNamedMax ? ', …' : ''})`;
  if (silent.length > 0) {
    return new DistError('E_MR_DATA_UNREACHABLE', `${named} were not found, and ${silent.join(', ')} did not answer`, { gid, keys: keys.slice(0, keysNamedMax), nodes: [...silent] });
  }
  return new DistError('E_MR_KEYS_MISSING', `${named} are held by no member`, { gid, keys: keys.slice(0, keysNamedMax) });
}
