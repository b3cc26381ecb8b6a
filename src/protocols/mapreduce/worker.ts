/**
 * The Env-bound MapReduce worker: the local `mr` service every node runs.
 *   keys(gid)         keys this node holds in gid's store (the coordinator's locate step)
 *   map(req)          read the task's keys here, map, combine, partition, ship batches to the owners
 *   shuffle(req)      keep one batch of map output (mem or store), reply once it is durable
 *   reduce(req)       read the manifest's batches in order, reduce per key, keep / return the outputs
 *   put(gid, pairs)   write final outputs into this node's store for gid (`out`)
 *   down(node, scope) a failure detector's verdict, relayed by the coordinator: calls to node fail now,
 *                     and the job's attempts started before the verdict ship nothing more there
 *   drop(job, gids)   delete a finished job's intermediates and the map outputs kept for it
 * Requests are validated; a user function's failure answers a coded error naming its key (user.ts);
 * nothing a request carries can throw out of a handler.
 */
import type { Env, NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { defineMethod, type Callback, type Service } from '../node/index.js';
import type { EngineName, KvAccess, Rpc } from './access.js';
import { partitionOf, type Source } from './core.js';
import { aggregateColumns, callUser, groupColumns, groupOne, visitMapOutput, type CallBudget, type Columns, type Pair } from './user.js';

export const mrService = 'mr';
/** Batches of one map attempt in flight at once (a bound on the shuffle's send queue). */
export const shuffleInFlightMax = 16;
/** Sends of one batch before the attempt fails with E_MR_SHUFFLE_FAILED (the node layer times each). */
export const shuffleSendsMax = 3;
export const shuffleCallMsDefault = 2_000;
/** Map outputs a worker keeps (per job, round and task) so a re-shipment after a reducer moved does
 * not map again (the paper keeps map output on the mapper's local disk, §3.1); bounded by tasks and pairs. */
export const mapOutputsKeptMax = 4_096;
export const mapOutputPairsKeptMax = 4_000_000;
/** Map requests a worker holds at once (the coordinator's slots keep it far lower; this is a backstop
 * against a misbehaving coordinator). */
export const mapQueueMax = 1_024;
/** Down verdicts remembered (per job, round and node); the oldest is forgotten first. */
export const downMarksMax = 4_096;

/** Which attempts a down verdict covers: those of `job`'s `round` numbered up to `attemptMax` (the ones
 * the coordinator started before it heard; later attempts never name the node as an owner). */
export interface DownScope {
  readonly job: string;
  readonly round: number;
  readonly attemptMax: number;
}

export interface UserBudget {
  readonly callMsMax: number;
  readonly taskMsMax: number;
}

export interface MapRequest {
  readonly job: string;
  readonly round: number;
  readonly task: string;
  readonly attempt: number;
  readonly source: Source;
  readonly partitions: readonly number[];
  readonly partitionCount: number;
  readonly owners: readonly NodeId[];
  /** Extra destinations [partition, node]: reduce backups that get the partition too. */
  readonly copies: readonly (readonly [number, NodeId])[];
  readonly map: Function;
  readonly compact: Function | null;
  readonly batchPairsMax: number;
  readonly memory: boolean;
  readonly budget: UserBudget;
  readonly shuffleCallMs: number;
}

export interface ShuffleRequest {
  readonly job: string;
  readonly round: number;
  readonly partition: number;
  readonly name: string;
  /** The batch's pairs as columns; kept as they came. */
  readonly keys: string[];
  readonly values: unknown[];
  readonly memory: boolean;
}

export interface ReduceRequest {
  readonly job: string;
  readonly round: number;
  readonly partition: number;
  readonly manifest: readonly (readonly [string, number, number])[];
  readonly reduce: Function;
  readonly memory: boolean;
  /** Last round: answer the outputs (and write them to `out` if set); else keep them here for the next round. */
  readonly final: boolean;
  readonly out: string | null;
  readonly budget: UserBudget;
}

/** A map attempt's answer: batch counts of the partitions it delivered, and the partitions whose owner
 * it could not reach (those stay pending at the coordinator, which moves them). */
export interface MapAnswer {
  readonly batches: [number, number][];
  readonly failed: [number, NodeId][];
  /** Batch counts of the copies (`req.copies`) delivered. */
  readonly copied: [number, number][];
}

/** A last round's outputs travel as columns; the coordinator makes the `{k: v}` objects. */
export type ReduceAnswer = { readonly missing: string[] } | { readonly results: Columns } | { readonly kept: number };

/** Where a round's shuffle batches and outputs live on a node: one gid per (job, round, partition). */
export const shuffleGid = (job: string, round: number, p: number): string => `mr.${job}.s${round}.${p}`;
export const outputGid = (job: string, round: number, p: number): string => `mr.${job}.o${round}.${p}`;
export const batchName = (task: string, attempt: number, seq: number): string => `${task}.${attempt}.${seq}`;
const engineFor = (memory: boolean): EngineName => (memory ? 'mem' : 'store');

export class MrWorker {
  readonly stats = { maps: 0, mapsFromKept: 0, reduces: 0, batchesSent: 0, batchesKept: 0, userErrors: 0 };
  private readonly mapOutputs = new Map<string, Map<number, Columns>>();
  private mapOutputPairs = 0;
  /** Map requests not yet run: one runs per event, so the shuffle batches and acknowledgements that
   * arrive meanwhile are handled between two tasks rather than after all of them. */
  private readonly mapQueue: { req: MapRequest; reply: Callback }[] = [];
  private mapScheduled = false;
  /** `job/round/node` -> highest attempt number a down verdict covers. */
  private readonly downMarks = new Map<string, number>();

  /** `setTimer` runs queued map requests; the node's own (node.setTimer) makes the node current while
   * the user's map runs, as in a message handler, and stops with the node. */
  constructor(
    private readonly env: Env,
    private readonly access: KvAccess,
    private readonly rpc: Rpc,
    private readonly setTimer: (delayMs: number, onFire: () => void) => void = (delayMs, onFire) => void env.timers.set(delayMs, onFire),
  ) {}

  service(): Service {
    return {
      keys: defineMethod(1, ([gid], reply) => (typeof gid === 'string' ? reply(null, this.access.keys('store', gid)) : reply(badRequest('keys', 'gid'))), { idempotent: true }),
      map: defineMethod(1, ([req], reply) => this.guarded(reply, () => this.enqueueMap(req as MapRequest, reply))),
      shuffle: defineMethod(1, ([req], reply) => this.guarded(reply, () => this.keep(req as ShuffleRequest, reply))),
      reduce: defineMethod(1, ([req], reply) => this.guarded(reply, () => this.reduce(req as ReduceRequest, reply))),
      put: defineMethod(2, ([gid, pairs], reply) => {
        if (typeof gid !== 'string' || !Array.isArray(pairs)) return reply(badRequest('put', 'gid, pairs'));
        this.access.write('store', gid, pairs as Pair[], (err) => reply(err, pairs.length));
      }),
      /** The coordinator relays a failure detector's verdict, so shipments to a dead owner fail now. */
      down: defineMethod(2, ([node, scope], reply) => {
        if (typeof node === 'string' && node !== this.env.nodeId) this.markDown(node, scope as DownScope | undefined);
        reply(null, null);
      }),
      drop: defineMethod(2, ([job, gids], reply) => this.guarded(reply, () => this.drop(job as string, gids as string[], reply))),
    };
  }

  /** A malformed request (a peer's bug, or bytes from elsewhere) answers an error; the node goes on. */
  private guarded(reply: Callback, run: () => void): void {
    try {
      run();
    } catch (cause) {
      reply(new DistError('E_MR_BAD_REQUEST', `bad mr request: ${(cause as Error)?.message ?? String(cause)}`, {}, { cause }));
    }
  }

  /** Calls waiting on `node` fail now; with a scope, so do later shipments of the covered attempts
   * (a queued task would otherwise wait out every send's timeout on a dead owner). */
  private markDown(node: NodeId, scope: DownScope | undefined): void {
    this.rpc.peerDown(node);
    if (typeof scope?.job !== 'string' || !Number.isInteger(scope.round) || !Number.isInteger(scope.attemptMax)) return;
    const key = `${scope.job}/${scope.round}/${node}`;
    this.downMarks.delete(key);
    this.downMarks.set(key, Math.max(scope.attemptMax, this.downMarks.get(key) ?? 0));
    if (this.downMarks.size > downMarksMax) this.downMarks.delete(this.downMarks.keys().next().value as string);
  }

  private isMarkedDown(req: MapRequest, node: NodeId): boolean {
    return req.attempt <= (this.downMarks.get(`${req.job}/${req.round}/${node}`) ?? 0);
  }

  // ------------------------------------------------------------------ map (§3.1 steps 3-4)

  private enqueueMap(req: MapRequest, reply: Callback): void {
    checkMapRequest(req);
    if (this.mapQueue.length >= mapQueueMax) return reply(new DistError('E_MR_BUSY', `${this.env.nodeId} holds ${mapQueueMax} map requests`, { node: this.env.nodeId }));
    this.mapQueue.push({ req, reply });
    this.scheduleMap();
  }

  /** Runs the oldest queued map request in an event of its own, then schedules the next. */
  private scheduleMap(): void {
    if (this.mapScheduled || this.mapQueue.length === 0) return;
    this.mapScheduled = true;
    this.setTimer(0, () => {
      this.mapScheduled = false;
      const next = this.mapQueue.shift();
      if (next !== undefined) this.guarded(next.reply, () => this.map(next.req, next.reply));
      this.scheduleMap();
    });
  }

  /** Runs map for the requested partitions this node does not keep yet (a re-execution after a
   * reducer died needs only the dead node's partitions: the others are not partitioned, combined or
   * shipped again), then ships the requested ones. */
  private map(req: MapRequest, reply: Callback): void {
    checkMapRequest(req);
    this.stats.maps++;
    const outputKey = `${req.job}/${req.round}/${req.task}`;
    const kept = this.mapOutputs.get(outputKey);
    const wanted = [...new Set([...req.partitions, ...req.copies.map(([p]) => p)])];
    const needed = wanted.filter((p) => kept?.get(p) === undefined);
    let buckets = kept ?? new Map<number, Columns>();
    if (needed.length === 0) this.stats.mapsFromKept++;
    else {
      const computed = this.runMap(req, needed, this.budget(req.budget));
      if (computed instanceof DistError) return this.userFailed(reply, computed);
      buckets = this.keepOutput(outputKey, kept, computed);
    }
    this.ship(req, new Map(wanted.map((p) => [p, buckets.get(p) as Columns])), reply);
  }

  /** Adds freshly computed buckets to a task's kept output (within the bounds); answers every bucket
   * known for the task, kept or not. */
  private keepOutput(key: string, kept: Map<number, Columns> | undefined, computed: Map<number, Columns>): Map<number, Columns> {
    let pairs = 0;
    for (const bucket of computed.values()) pairs += bucket.keys.length;
    const all = new Map([...(kept ?? []), ...computed]);
    if ((kept === undefined && this.mapOutputs.size >= mapOutputsKeptMax) || this.mapOutputPairs + pairs > mapOutputPairsKeptMax) return all;
    this.mapOutputs.set(key, all);
    this.mapOutputPairs += pairs;
    return all;
  }

  /** Maps the task's keys, sending each output pair of a `wanted` partition straight to it: grouped by
   * key when there is a combiner (§4.3), which then runs once per key and partition; else kept as pairs. */
  private runMap(req: MapRequest, wanted: readonly number[], budget: CallBudget): Map<number, Columns> | DistError {
    const { gid, engine } = req.source;
    const keys = req.source.keys ?? this.access.keys(engine, gid);
    // Each value is read (and decoded) once, before any map call: a task whose data is missing here
    // fails without running map.
    const values: unknown[] = [];
    const missing: string[] = [];
    for (const key of keys) {
      const found = this.access.get(engine, gid, key);
      if (found === undefined) missing.push(key);
      else values.push(found.value);
    }
    if (missing.length > 0) {
      return new DistError('E_MR_KEYS_MISSING', `${this.env.nodeId} lacks ${missing.length} keys of ${gid} (${missing.slice(0, 5).join(', ')})`, { node: this.env.nodeId, gid, keys: missing.slice(0, 5) });
    }
    const n = req.partitionCount;
    // Sparse: undefined for a partition not wanted, whose pairs are dropped here.
    const groups: (Map<string, unknown[]> | undefined)[] = Array.from({ length: n }, () => undefined);
    const pairs: (Columns | undefined)[] = Array.from({ length: n }, () => undefined);
    for (const p of wanted) {
      groups[p] = new Map();
      pairs[p] = { keys: [], values: [] };
    }
    const visit = req.compact === null
      ? (k: string, v: unknown) => {
        const bucket = pairs[partitionOf(k, n)];
        bucket?.keys.push(k);
        bucket?.values.push(v);
      }
      : (k: string, v: unknown) => {
        const group = groups[partitionOf(k, n)];
        if (group !== undefined) groupOne(group, k, v);
      };
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const out = callUser('map', req.map, key, values[i], budget);
      if (out instanceof DistError) return out;
      const bad = visitMapOutput(out, key, visit);
      if (bad !== undefined) return bad;
    }
    const buckets = new Map<number, Columns>();
    for (const p of wanted) {
      const bucket = req.compact === null ? pairs[p] as Columns : aggregateColumns('compact', req.compact, groups[p] as Map<string, unknown[]>, budget, false);
      if (bucket instanceof DistError) return bucket;
      buckets.set(p, bucket);
    }
    return buckets;
  }

  /** Ships every bucket to its owner in batches of at most batchPairsMax pairs, at most
   * shuffleInFlightMax at once. Once every batch is kept or its partition has failed, answers the
   * batch count of each delivered partition and the partitions whose owner it could not reach: one
   * dead owner costs only its own partitions, not the whole attempt. */
  private ship(req: MapRequest, buckets: Map<number, Columns>, reply: Callback): void {
    // Destinations: each requested partition to its owner (d < partitions.length), then the copies.
    const dests: (readonly [number, NodeId])[] = [...req.partitions.map((p) => [p, req.owners[p] as NodeId] as const), ...req.copies];
    const counts = new Map<number, number>();
    const sends: { d: number; request: ShuffleRequest }[] = [];
    for (const [d, [p, _node]] of dests.entries()) {
      const bucket = buckets.get(p) as Columns;
      const count = Math.ceil(bucket.keys.length / req.batchPairsMax);
      counts.set(p, count);
      for (let seq = 0; seq < count; seq++) {
        const [from, to] = [seq * req.batchPairsMax, (seq + 1) * req.batchPairsMax];
        const request: ShuffleRequest = {
          job: req.job, round: req.round, partition: p, name: batchName(req.task, req.attempt, seq), keys: bucket.keys.slice(from, to), values: bucket.values.slice(from, to), memory: req.memory,
        };
        sends.push({ d, request });
      }
    }
    const failed = new Set<number>();
    let next = 0;
    let settled = 0;
    let answered = false;
    const pump = (): void => {
      if (answered) return;
      if (settled === sends.length) {
        answered = true;
        const delivered = (primary: boolean): [number, number][] => dests.flatMap(([p], d) => ((d < req.partitions.length) === primary && !failed.has(d) ? [[p, counts.get(p) as number]] : []));
        const answer: MapAnswer = { batches: delivered(true), failed: [...failed].map((d) => [...(dests[d] as readonly [number, NodeId])]), copied: delivered(false) };
        return reply(null, answer);
      }
      while (next < sends.length && next - settled < shuffleInFlightMax) {
        const { d, request } = sends[next++] as (typeof sends)[number];
        const owner = (dests[d] as readonly [number, NodeId])[1];
        // A destination that failed already, or whose node was declared down: no (more) batches.
        if (failed.has(d) || this.isMarkedDown(req, owner)) {
          failed.add(d);
          settled++;
          continue;
        }
        this.sendBatch(owner, request, req.shuffleCallMs, 1, (err) => {
          if (err !== null) failed.add(d);
          settled++;
          pump();
        });
      }
      if (settled === sends.length) pump();
    };
    pump();
  }

  private sendBatch(owner: NodeId, request: ShuffleRequest, timeoutMs: number, sendNo: number, onDone: (err: Error | null) => void): void {
    assert(sendNo >= 1 && sendNo <= shuffleSendsMax, 'sends of a batch are bounded');
    this.stats.batchesSent++;
    // Keeping a batch is idempotent (same name, same pairs), so a resend after a lost reply is safe.
    this.rpc.call(owner, 'shuffle', [request], timeoutMs, (err) => {
      const final = err === null || sendNo === shuffleSendsMax || ['E_MR_BAD_REQUEST', 'E_NODE_PEER_DOWN'].includes((err as DistError).code);
      if (final) return onDone(err);
      this.sendBatch(owner, request, timeoutMs, sendNo + 1, onDone);
    });
  }

  // ------------------------------------------------------------------ shuffle and reduce (§3.1 steps 5-6)

  private keep(req: ShuffleRequest, reply: Callback): void {
    assert(typeof req.job === 'string' && typeof req.name === 'string' && Array.isArray(req.keys) && Array.isArray(req.values), 'a batch has job, name, keys and values');
    assert(req.keys.length === req.values.length, 'a batch has one value per key');
    this.stats.batchesKept++;
    const batch: Columns = { keys: req.keys, values: req.values };
    this.access.write(engineFor(req.memory), shuffleGid(req.job, req.round, req.partition), [[req.name, batch]], (err) => reply(err, null));
  }

  private reduce(req: ReduceRequest, reply: Callback): void {
    assert(typeof req.job === 'string' && Array.isArray(req.manifest) && typeof req.reduce === 'function', 'a reduce request has job, manifest and reduce');
    this.stats.reduces++;
    const input = this.gather(req);
    if (!(input instanceof Map)) return reply(null, { missing: input } satisfies ReduceAnswer);
    const results = aggregateColumns('reduce', req.reduce, input, this.budget(req.budget), true);
    if (results instanceof DistError) return this.userFailed(reply, results);
    const pairs = (): Pair[] => results.keys.map((k, i) => [k, results.values[i]]);
    if (!req.final) {
      const gid = outputGid(req.job, req.round, req.partition);
      return this.access.write(engineFor(req.memory), gid, pairs(), (err) => reply(err, { kept: results.keys.length } satisfies ReduceAnswer));
    }
    if (req.out === null) return reply(null, { results } satisfies ReduceAnswer);
    this.access.putOut(req.out, pairs(), (err) => reply(err, { results } satisfies ReduceAnswer));
  }

  /** The reduce input in manifest order (task id, then batch number, then position): a stable order
   * that does not depend on which attempt or node produced a batch, so results match a fault-free run. */
  private gather(req: ReduceRequest): Map<string, unknown[]> | string[] {
    const engine = engineFor(req.memory);
    const gid = shuffleGid(req.job, req.round, req.partition);
    const groups = new Map<string, unknown[]>();
    const missing: string[] = [];
    for (const [task, attempt, batches] of req.manifest) {
      for (let seq = 0; seq < batches; seq++) {
        const found = this.access.get(engine, gid, batchName(task, attempt, seq));
        if (found === undefined) {
          missing.push(task);
          break;
        }
        groupColumns(found.value as Columns, groups);
      }
    }
    return missing.length > 0 ? missing : groups;
  }

  private drop(job: string, gids: string[], reply: Callback): void {
    assert(typeof job === 'string' && Array.isArray(gids), 'drop needs a job and gids');
    for (const key of [...this.downMarks.keys()]) if (key.startsWith(`${job}/`)) this.downMarks.delete(key);
    for (const [key, buckets] of [...this.mapOutputs]) {
      if (!key.startsWith(`${job}/`)) continue;
      for (const bucket of buckets.values()) this.mapOutputPairs -= bucket.keys.length;
      this.mapOutputs.delete(key);
    }
    let left = gids.length * 2;
    if (left === 0) return reply(null, 0);
    for (const gid of gids) {
      for (const engine of ['mem', 'store'] as const) {
        const keys = this.access.keys(engine, gid);
        this.access.write(engine, gid, keys.map((k) => [k, undefined] as const), () => --left === 0 && reply(null, gids.length));
      }
    }
  }

  private budget(b: UserBudget): CallBudget {
    const now = (): number => this.env.clock.now();
    return { now, callMsMax: b.callMsMax, taskMsMax: b.taskMsMax, taskStartMs: now() };
  }

  private userFailed(reply: Callback, err: DistError): void {
    this.stats.userErrors++;
    this.env.trace.event('mr.user-error', { code: err.code, key: String(err.details?.key ?? '') });
    reply(err);
  }
}

function badRequest(method: string, fields: string): DistError {
  return new DistError('E_MR_BAD_REQUEST', `mr.${method} needs ${fields}`, { method });
}

function checkMapRequest(req: MapRequest): void {
  assert(typeof req === 'object' && req !== null && typeof req.job === 'string' && typeof req.task === 'string', 'a map request has job and task');
  assert(typeof req.map === 'function' && (req.compact === null || typeof req.compact === 'function'), 'map (and compact) are functions');
  assert(Array.isArray(req.partitions) && Array.isArray(req.owners) && req.owners.length === req.partitionCount, 'owners cover every partition');
  assert(Array.isArray(req.copies) && req.copies.every(([p]) => Number.isInteger(p) && p >= 0 && p < req.partitionCount), 'copies name partitions');
  assert(Number.isInteger(req.batchPairsMax) && req.batchPairsMax >= 1, 'batchPairsMax >= 1');
}
