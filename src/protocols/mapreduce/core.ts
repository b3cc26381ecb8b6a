/**
 * The pure MapReduce coordinator core: the task table of one round (Dean & Ghemawat, "MapReduce:
 * Simplified Data Processing on Large Clusters", OSDI 2004, §3.1-§3.2 "Master Data Structures"). No Env:
 * time comes in as `nowMs` arguments, answers come in as method calls, and `poll` answers what to start.
 *
 * Shape of a round:
 * - map task: a set of input keys readable on `source.nodes` (the holder, or every replica). A map
 *   attempt reads them there, runs map (and the combiner), splits the output into `partitions` by
 *   `partitionOf(key)` and ships each partition in bounded batches to the partition's owner (the push
 *   form of §3.1 step 4-5). Its answer is the batch count per partition.
 * - reduce task: one partition. It runs on its owner once every map task has delivered that partition,
 *   with the exact (task, attempt, batch count) manifest, so it reads one attempt's output per map task
 *   and never mixes a failed attempt's batches with a later one's.
 *
 * Invariants (asserted):
 * - a map task's partition is recorded at most once per owner; it is pending until recorded;
 * - a reduce task starts only when its manifest covers every map task;
 * - attempt numbers are unique in the round, so shuffle keys of two attempts never collide.
 *
 * Faults (§3.3): an attempt that misses its deadline or fails for a non-user reason is re-executed on
 * another candidate node (map: another holder of the data; reduce: another member, after which every
 * map task re-ships that partition there, because the old owner's intermediates are unreachable). A
 * user-function error is deterministic, so it fails the job at once with the key it failed on. A task
 * that fails `attemptsMax` times fails the job with a coded error naming the task, its keys and nodes:
 * never a silently partial result. Stragglers (§3.6): a running map attempt older than `backupAfterMs`
 * gets one backup attempt on another holder; the first answer wins. A running reduce attempt older
 * than `backupAfterMs` gets one backup destination on another member: every map task ships the
 * partition there too (a re-shipment from its kept output), a backup reduce runs there once its own
 * manifest is complete, and the first answer wins. A failed backup only ends the backup.
 *
 * Slots (§3.2 "idle, in-progress, completed"): a node runs at most `mapSlotsPerNode` map attempts at
 * once; the rest wait in the table and go to whichever holder frees a slot first. So the work of a
 * dead or slow node is picked up by every surviving holder as it becomes idle, not queued behind one
 * of them, and an attempt's deadline measures its run, not its wait in a worker's queue.
 *
 * Partial answers: a map attempt answers the partitions it delivered; partitions it could not deliver
 * stay pending (their owner moves), so only they are shipped again, never the delivered ones.
 */
import type { Millis, NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';

/** Bounds on a round; every loop over tasks or attempts is bounded by these. */
export const mapTasksMax = 100_000;
export const partitionsMax = 4_096;
export const attemptsMaxLimit = 100;
export const mapSlotsPerNodeMax = 1_024;
/** Keys a map error message names, so a huge task does not make a huge error. */
export const keysNamedMax = 5;
/** Attempts one task may ever start: its own retries, one backup, and re-shipments after reduce
 * owners moved (each bounded by a reduce task's attemptsMax). */
export const attemptsPerTaskMax = 10_000;

/** User-function failures: deterministic, so retrying elsewhere would fail the same way. */
export const userErrorCodes: ReadonlySet<string> = new Set(['E_MR_MAP_THREW', 'E_MR_MAP_SHAPE', 'E_MR_REDUCE_THREW', 'E_MR_REDUCE_SHAPE', 'E_MR_COMPACT_THREW', 'E_MR_COMPACT_SHAPE']);

/** FNV-1a over UTF-16 code units: a fixed partition function, the same on every node and every run (§4.1). */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export interface Source {
  /** Gid whose keys the task reads. */
  readonly gid: string;
  /** The keys to map; null: every key the node holds in `gid` (a later round's input). */
  readonly keys: readonly string[] | null;
  /** Nodes that can read the keys (holder first, then replicas). */
  readonly nodes: readonly NodeId[];
  /** Engine the keys live in: the group's `store` for a job's input; a later round's input in `mem`
   * or `store` as the job's `memory` option says. */
  readonly engine: 'mem' | 'store';
}

export interface RoundConfig {
  readonly partitions: number;
  /** Members a reduce task may run on; partition p starts on `members[p % members.length]`. */
  readonly members: readonly NodeId[];
  readonly attemptsMax: number;
  readonly taskTimeoutMs: Millis;
  /** A running map attempt this old gets one backup attempt on another holder (§3.6); 0 turns it off. */
  readonly backupAfterMs: Millis;
  /** A node whose attempt failed is avoided this long. */
  readonly suspectMs: Millis;
  /** Map attempts one node runs at once; further tasks wait for a free slot on one of their holders. */
  readonly mapSlotsPerNode: number;
}

interface Attempt {
  readonly no: number;
  readonly node: NodeId;
  readonly deadlineMs: Millis;
  live: boolean;
}

interface MapTask {
  readonly id: string;
  readonly source: Source;
  /** Partitions not yet delivered to their current owner. */
  readonly pending: Set<number>;
  readonly attempts: Attempt[];
  /** Owners each attempt shipped to, by attempt number (a result for a since-moved partition is stale). */
  readonly shippedTo: Map<number, readonly NodeId[]>;
  failures: number;
  lastError: DistError | undefined;
  backedUp: boolean;
  /** Nodes that answered they do not hold the keys. */
  readonly lacking: Set<NodeId>;
  /** Partitions whose reduce backup this task has not delivered yet. */
  readonly copies: Set<number>;
  /** Backup destination each attempt shipped to, by attempt number and partition. */
  readonly copiedTo: Map<number, readonly (NodeId | undefined)[]>;
  /** The node whose attempt last answered: it keeps the task's output, so a re-shipment there does
   * not run map again. */
  keptOn: NodeId | undefined;
}

interface ReduceBackup {
  readonly node: NodeId;
  /** task id -> [attempt, batches] of the map output delivered to `node`. */
  readonly delivered: Map<string, readonly [number, number]>;
  /** The backup reduce attempt, once started. */
  attempt: number | undefined;
}

interface ReduceTask {
  readonly partition: number;
  owner: NodeId;
  /** task id -> [attempt, batches] of the map output delivered to `owner`. */
  readonly delivered: Map<string, readonly [number, number]>;
  readonly attempts: Attempt[];
  failures: number;
  done: boolean;
  /** A second destination while the owner's attempt runs long (§3.6); at most one per partition. */
  backup: ReduceBackup | undefined;
  backedUp: boolean;
}

export type MapAction = {
  readonly kind: 'map';
  readonly task: string;
  readonly attempt: number;
  readonly node: NodeId;
  readonly source: Source;
  readonly partitions: readonly number[];
  /** Owner of every partition (by index) as this attempt must ship. */
  readonly owners: readonly NodeId[];
  /** Extra destinations: [partition, node] of reduce backups this attempt also ships to. */
  readonly copies: readonly (readonly [number, NodeId])[];
  readonly backup: boolean;
};
export type ReduceAction = {
  readonly kind: 'reduce';
  readonly partition: number;
  readonly attempt: number;
  readonly node: NodeId;
  /** [task, attempt, batches] in task order: the reduce input, read in this order. */
  readonly manifest: readonly (readonly [string, number, number])[];
};
export type Action = MapAction | ReduceAction;

export type RoundOutcome = { readonly kind: 'running' } | { readonly kind: 'done'; readonly results: unknown[] } | { readonly kind: 'failed'; readonly error: DistError };

/** [task, attempt, batches] in task order: a reduce's input, read in this order. */
function manifestOf(delivered: ReadonlyMap<string, readonly [number, number]>): (readonly [string, number, number])[] {
  return [...delivered].sort(([a], [b]) => (a < b ? -1 : 1)).map(([task, [no, batches]]) => [task, no, batches] as const);
}

export function checkRoundConfig(c: RoundConfig): void {
  assert(Number.isInteger(c.partitions) && c.partitions >= 1 && c.partitions <= partitionsMax, `partitions in [1, ${partitionsMax}]`);
  assert(c.members.length >= 1, 'a round needs members');
  assert(Number.isInteger(c.attemptsMax) && c.attemptsMax >= 1 && c.attemptsMax <= attemptsMaxLimit, `attemptsMax in [1, ${attemptsMaxLimit}]`);
  assert(c.taskTimeoutMs > 0 && c.backupAfterMs >= 0 && c.suspectMs >= 0, 'timeouts are positive');
  assert(Number.isInteger(c.mapSlotsPerNode) && c.mapSlotsPerNode >= 1 && c.mapSlotsPerNode <= mapSlotsPerNodeMax, `mapSlotsPerNode in [1, ${mapSlotsPerNodeMax}]`);
}

export class RoundTable {
  private readonly maps = new Map<string, MapTask>();
  /** The order `poll` offers map tasks to free slots: round robin over the sets of holders, so every
   * holder set is drained at the same pace and no node runs out of runnable tasks while others still
   * have a queue (ids, which fix the reduce input order, stay in key order). */
  private dispatchOrder: MapTask[] = [];
  private readonly reduces: ReduceTask[] = [];
  private readonly suspects = new Map<NodeId, Millis>();
  private readonly results = new Map<number, unknown>();
  private readonly producers = new Map<number, NodeId>();
  private attemptSeq = 0;
  private failure: DistError | undefined;
  readonly stats = { mapAttempts: 0, reduceAttempts: 0, backups: 0, reduceBackups: 0, timeouts: 0, reexecutions: 0, reassigned: 0 };

  constructor(readonly config: RoundConfig) {
    checkRoundConfig(config);
    for (let p = 0; p < config.partitions; p++) {
      this.reduces.push({ partition: p, owner: config.members[p % config.members.length] as NodeId, delivered: new Map(), attempts: [], failures: 0, done: false, backup: undefined, backedUp: false });
    }
  }

  /** Adds a map task; ids sort in the order tasks were added, which fixes the reduce input order. */
  addMapTask(source: Source): string {
    assert(this.maps.size < mapTasksMax, `at most ${mapTasksMax} map tasks`);
    assert(source.nodes.length >= 1, 'a map task needs a node that holds its data');
    const id = `m${String(this.maps.size).padStart(6, '0')}`;
    const pending = new Set<number>(Array.from({ length: this.config.partitions }, (_, p) => p));
    this.maps.set(id, { id, source, pending, attempts: [], shippedTo: new Map(), failures: 0, lastError: undefined, backedUp: false, lacking: new Set(), keptOn: undefined, copies: new Set(), copiedTo: new Map() });
    this.dispatchOrder = [];
    return id;
  }

  /** The highest attempt number started so far in this round. */
  get attemptsStarted(): number {
    return this.attemptSeq;
  }

  get mapTaskCount(): number {
    return this.maps.size;
  }

  owners(): NodeId[] {
    return this.reduces.map((r) => r.owner);
  }

  /** The node whose reduce attempt produced each partition's result (a later round reads it there). */
  producerOf(partition: number): NodeId {
    const node = this.producers.get(partition);
    assert(node !== undefined, `partition ${partition} has no result yet`);
    return node;
  }

  outcome(): RoundOutcome {
    if (this.failure !== undefined) return { kind: 'failed', error: this.failure };
    if (this.reduces.every((r) => r.done)) return { kind: 'done', results: this.reduces.map((r) => this.results.get(r.partition)) };
    return { kind: 'running' };
  }

  /** Expires late attempts, then answers the attempts to start now (first attempts, re-executions,
   * backups, runnable reduces). Empty once the round is decided. */
  poll(nowMs: Millis): Action[] {
    if (this.outcome().kind !== 'running') return [];
    this.expire(nowMs);
    const actions: Action[] = [];
    const load = this.mapLoad();
    for (const task of this.orderedMaps()) {
      const action = this.nextMap(task, nowMs, load);
      if (action !== undefined) {
        actions.push(action);
        load.set(action.node, (load.get(action.node) ?? 0) + 1);
      }
      if (this.failure !== undefined) return [];
    }
    for (const reduce of this.reduces) {
      const action = this.nextReduce(reduce, nowMs);
      if (action !== undefined) actions.push(action);
      if (this.failure !== undefined) return [];
    }
    return actions;
  }

  // ------------------------------------------------------------------ answers

  /** A map attempt answered the batch count of each partition it delivered (`batches[p]`); a
   * partition it has no count for (its owner was unreachable) stays pending. */
  mapSucceeded(taskId: string, attempt: number, batches: readonly number[], copied: readonly number[] = []): void {
    const task = this.mapTask(taskId);
    this.recordCopies(task, attempt, copied);
    const shipped = task.shippedTo.get(attempt);
    assert(shipped !== undefined, `map ${taskId} has no attempt ${attempt}`);
    this.endAttempt(task.attempts, attempt);
    const by = task.attempts.find((a) => a.no === attempt);
    if (by !== undefined) task.keptOn = by.node;
    for (const p of [...task.pending]) {
      const count = batches[p];
      const reduce = this.reduces[p] as ReduceTask;
      // A partition that moved since this attempt started went to the old owner: still pending.
      if (count === undefined || shipped[p] !== reduce.owner || reduce.done) continue;
      assert(Number.isInteger(count) && count >= 0, 'batch counts are integers >= 0');
      reduce.delivered.set(taskId, [attempt, count]);
      task.pending.delete(p);
    }
  }

  /** Backup deliveries (`copied[p]`: batch count) that still match the partition's backup. */
  private recordCopies(task: MapTask, attempt: number, copied: readonly number[]): void {
    const to = task.copiedTo.get(attempt);
    for (const p of [...task.copies]) {
      const count = copied[p];
      const backup = (this.reduces[p] as ReduceTask).backup;
      if (count === undefined || backup === undefined || to?.[p] !== backup.node) continue;
      assert(Number.isInteger(count) && count >= 0, 'batch counts are integers >= 0');
      backup.delivered.set(task.id, [attempt, count]);
      task.copies.delete(p);
    }
  }

  /** A map attempt failed. User-function errors fail the round; a node that lacks the data is dropped
   * from the task's candidates; a failed shipment moves the partition (§3.3 "worker failure"). */
  mapFailed(taskId: string, attempt: number, error: DistError, nowMs: Millis): void {
    const task = this.mapTask(taskId);
    const ended = this.endAttempt(task.attempts, attempt);
    if (ended === undefined) return;
    if (userErrorCodes.has(error.code)) return this.fail(error);
    // A failed shipment is the reducer's fault, not this task's: it counts against the reduce task.
    if (error.code === 'E_MR_SHUFFLE_FAILED') return this.shuffleFailed(error.details?.partition, error.details?.node, nowMs);
    if (error.code === 'E_MR_KEYS_MISSING') task.lacking.add(ended.node);
    else this.suspect(ended.node, nowMs);
    task.failures++;
    task.lastError = error;
  }

  reduceSucceeded(partition: number, attempt: number, result: unknown): void {
    const reduce = this.reduceTask(partition);
    this.endAttempt(reduce.attempts, attempt);
    if (reduce.done) return;
    const producer = reduce.attempts.find((a) => a.no === attempt);
    assert(producer !== undefined, `partition ${partition} has no attempt ${attempt}`);
    this.producers.set(partition, producer.node);
    reduce.done = true;
    // The other of a backup pair may still run: its answer is ignored, and it must not time out into a move.
    for (const a of reduce.attempts) a.live = false;
    this.results.set(partition, result);
    for (const task of this.maps.values()) {
      task.pending.delete(partition);
      task.copies.delete(partition);
    }
  }

  /** The owner lacks some map output it was told about (it lost intermediates kept in mem, or a
   * batch never arrived): those map tasks ship the partition again (§3.3, re-execution of completed
   * map tasks whose output is lost). */
  reduceMissing(partition: number, attempt: number, taskIds: readonly string[]): void {
    const reduce = this.reduceTask(partition);
    const backup = reduce.backup;
    if (backup !== undefined && backup.attempt === attempt) {
      if (this.endAttempt(reduce.attempts, attempt) === undefined || reduce.done) return;
      backup.attempt = undefined;
      for (const id of taskIds) {
        backup.delivered.delete(id);
        this.mapTask(id).copies.add(partition);
      }
      return;
    }
    if (this.endAttempt(reduce.attempts, attempt) === undefined || reduce.done) return;
    assert(taskIds.length > 0, 'a missing answer names the missing tasks');
    reduce.failures++;
    for (const id of taskIds) {
      reduce.delivered.delete(id);
      this.mapTask(id).pending.add(partition);
      this.stats.reexecutions++;
    }
  }

  reduceFailed(partition: number, attempt: number, error: DistError, nowMs: Millis): void {
    const reduce = this.reduceTask(partition);
    const ended = this.endAttempt(reduce.attempts, attempt);
    if (ended === undefined || reduce.done) return;
    if (userErrorCodes.has(error.code)) return this.fail(error);
    if (reduce.backup?.attempt === attempt) return this.dropBackup(reduce);
    reduce.failures++;
    this.suspect(ended.node, nowMs);
    this.reassign(reduce);
  }

  /** A failure detector says `node` is down: its live attempts fail, and the partitions it owns and
   * has not finished move to other members (their map output is re-shipped). */
  nodeDown(node: NodeId, nowMs: Millis): void {
    this.suspect(node, nowMs);
    for (const task of this.maps.values()) {
      for (const a of task.attempts) {
        if (!a.live || a.node !== node) continue;
        a.live = false;
        task.failures++;
      }
    }
    for (const reduce of this.reduces) {
      if (reduce.done) continue;
      if (reduce.backup?.node === node) this.dropBackup(reduce);
      if (reduce.owner !== node) continue;
      for (const a of reduce.attempts) if (a.node === node) a.live = false;
      reduce.failures++;
      this.reassign(reduce);
    }
  }

  // ------------------------------------------------------------------ scheduling

  private nextMap(task: MapTask, nowMs: Millis, load: ReadonlyMap<NodeId, number>): MapAction | undefined {
    if (task.pending.size === 0 && task.copies.size === 0) return undefined;
    const live = task.attempts.filter((a) => a.live);
    if (live.length === 0) return this.startMap(task, nowMs, load, false);
    const first = live[0] as Attempt;
    const startedMs = first.deadlineMs - this.config.taskTimeoutMs;
    if (this.config.backupAfterMs > 0 && !task.backedUp && live.length === 1 && nowMs - startedMs >= this.config.backupAfterMs) {
      const others = this.candidates(task, nowMs).filter((n) => n !== first.node && (load.get(n) ?? 0) < this.config.mapSlotsPerNode);
      if (others.length === 0) return undefined;
      task.backedUp = true;
      this.stats.backups++;
      return this.startMap(task, nowMs, load, true, others);
    }
    return undefined;
  }

  private startMap(task: MapTask, nowMs: Millis, load: ReadonlyMap<NodeId, number>, backup: boolean, among?: NodeId[]): MapAction | undefined {
    if (task.failures >= this.config.attemptsMax) return void this.fail(this.lostError(task));
    const candidates = among ?? this.candidates(task, nowMs);
    if (candidates.length === 0) return void this.fail(this.lostError(task));
    const node = this.pickNode(task, candidates, load, nowMs);
    if (node === undefined) return undefined; // every candidate's slots are taken: wait for one
    const attempt = this.newAttempt(task.attempts, node, nowMs);
    const owners = this.owners();
    task.shippedTo.set(attempt.no, owners);
    const backups = this.reduces.map((r) => r.backup?.node);
    task.copiedTo.set(attempt.no, backups);
    this.stats.mapAttempts++;
    const partitions = [...task.pending].sort((a, b) => a - b);
    const copies = [...task.copies].sort((a, b) => a - b).flatMap((p) => (backups[p] === undefined ? [] : [[p, backups[p] as NodeId] as const]));
    return { kind: 'map', task: task.id, attempt: attempt.no, node, source: task.source, partitions, owners, copies, backup };
  }

  private nextReduce(reduce: ReduceTask, nowMs: Millis): ReduceAction | undefined {
    if (reduce.done) return undefined;
    const backup = reduce.backup;
    if (backup !== undefined && backup.attempt === undefined && backup.delivered.size === this.maps.size) {
      const attempt = this.newAttempt(reduce.attempts, backup.node, nowMs);
      backup.attempt = attempt.no;
      this.stats.reduceAttempts++;
      return { kind: 'reduce', partition: reduce.partition, attempt: attempt.no, node: backup.node, manifest: manifestOf(backup.delivered) };
    }
    const running = this.primaryAttempt(reduce);
    if (running !== undefined) return void this.maybeBackUp(reduce, running, nowMs);
    if (reduce.delivered.size < this.maps.size) return undefined;
    if (reduce.failures >= this.config.attemptsMax) {
      return void this.fail(new DistError('E_MR_TASK_FAILED', `reduce of partition ${reduce.partition} failed ${reduce.failures} times (last on ${reduce.owner})`, { partition: reduce.partition, node: reduce.owner }));
    }
    const attempt = this.newAttempt(reduce.attempts, reduce.owner, nowMs);
    this.stats.reduceAttempts++;
    return { kind: 'reduce', partition: reduce.partition, attempt: attempt.no, node: reduce.owner, manifest: manifestOf(reduce.delivered) };
  }

  /** The owner's live reduce attempt (not the backup's). */
  private primaryAttempt(reduce: ReduceTask): Attempt | undefined {
    return reduce.attempts.find((a) => a.live && a.no !== reduce.backup?.attempt);
  }

  /** §3.6 for reduce: an attempt running longer than backupAfterMs gets one backup destination on the
   * member, not suspect, owning the fewest unfinished partitions; every map task ships there too. */
  private maybeBackUp(reduce: ReduceTask, running: Attempt, nowMs: Millis): void {
    const startedMs = running.deadlineMs - this.config.taskTimeoutMs;
    if (this.config.backupAfterMs === 0 || reduce.backedUp || nowMs - startedMs < this.config.backupAfterMs) return;
    const owned = new Map<NodeId, number>();
    for (const r of this.reduces) if (!r.done) owned.set(r.owner, (owned.get(r.owner) ?? 0) + 1);
    let best: NodeId | undefined;
    for (const n of this.config.members) {
      if (n === running.node || this.isSuspect(n, nowMs)) continue;
      if (best === undefined || (owned.get(n) ?? 0) < (owned.get(best) ?? 0)) best = n;
    }
    if (best === undefined) return;
    reduce.backedUp = true;
    reduce.backup = { node: best, delivered: new Map(), attempt: undefined };
    this.stats.backups++;
    this.stats.reduceBackups++;
    for (const task of this.maps.values()) task.copies.add(reduce.partition);
  }

  /** Ends a partition's backup (failed, timed out, or its node is down); the owner's attempts go on. */
  private dropBackup(reduce: ReduceTask): void {
    const backup = reduce.backup;
    if (backup === undefined) return;
    if (backup.attempt !== undefined) this.endAttempt(reduce.attempts, backup.attempt);
    reduce.backup = undefined;
    for (const task of this.maps.values()) task.copies.delete(reduce.partition);
  }

  /** Where a task's next attempt runs: on the node that keeps its output when that node is healthy
   * (a re-shipment, no map), else on the least loaded fresh candidate (ties: candidate order), else on
   * a suspect when no fresh holder is left. Undefined while every such node's slots are taken. */
  private pickNode(task: MapTask, candidates: readonly NodeId[], load: ReadonlyMap<NodeId, number>, nowMs: Millis): NodeId | undefined {
    const slots = this.config.mapSlotsPerNode;
    const free = (n: NodeId): boolean => (load.get(n) ?? 0) < slots;
    const kept = task.keptOn;
    if (kept !== undefined && candidates.includes(kept) && !this.isSuspect(kept, nowMs)) return free(kept) ? kept : undefined;
    const fresh = candidates.filter((n) => !this.isSuspect(n, nowMs));
    const pool = fresh.length > 0 ? fresh : candidates;
    let best: NodeId | undefined;
    for (const n of pool) if (free(n) && (best === undefined || (load.get(n) ?? 0) < (load.get(best) ?? 0))) best = n;
    return best;
  }

  private orderedMaps(): readonly MapTask[] {
    if (this.dispatchOrder.length === this.maps.size) return this.dispatchOrder;
    const bySet = new Map<string, MapTask[]>();
    for (const task of this.maps.values()) {
      const set = [...task.source.nodes].sort().join('\n');
      bySet.set(set, [...(bySet.get(set) ?? []), task]);
    }
    const queues = [...bySet.values()];
    const order: MapTask[] = [];
    for (let i = 0; order.length < this.maps.size; i++) for (const queue of queues) if (i < queue.length) order.push(queue[i] as MapTask);
    this.dispatchOrder = order;
    return order;
  }

  /** Live map attempts per node: the slots in use. */
  private mapLoad(): Map<NodeId, number> {
    const load = new Map<NodeId, number>();
    for (const task of this.maps.values()) for (const a of task.attempts) if (a.live) load.set(a.node, (load.get(a.node) ?? 0) + 1);
    return load;
  }

  /** Holders not known to lack the data, best first: holders that are not suspect, rotated by the
   * task's failures so retries spread, then suspects (a suspect may be the only holder left). */
  private candidates(task: MapTask, nowMs: Millis): NodeId[] {
    const holders = task.source.nodes.filter((n) => !task.lacking.has(n));
    const fresh = holders.filter((n) => !this.isSuspect(n, nowMs));
    const k = fresh.length === 0 ? 0 : task.failures % fresh.length;
    return [...fresh.slice(k), ...fresh.slice(0, k), ...holders.filter((n) => this.isSuspect(n, nowMs))];
  }

  private expire(nowMs: Millis): void {
    for (const task of this.maps.values()) {
      for (const a of task.attempts) if (a.live && a.deadlineMs <= nowMs) this.timeOut(a, nowMs, () => task.failures++);
    }
    for (const reduce of this.reduces) {
      for (const a of reduce.attempts) {
        if (!a.live || a.deadlineMs > nowMs) continue;
        if (a.no === reduce.backup?.attempt) this.timeOut(a, nowMs, () => this.dropBackup(reduce));
        else this.timeOut(a, nowMs, () => { reduce.failures++; this.reassign(reduce); });
      }
    }
  }

  private timeOut(attempt: Attempt, nowMs: Millis, onFailed: () => void): void {
    attempt.live = false;
    this.stats.timeouts++;
    this.suspect(attempt.node, nowMs);
    onFailed();
  }

  /** Moves a partition to the member, not suspect, that owns the fewest unfinished partitions (ties:
   * the next after the old owner in member order), so a dead node's partitions spread over the
   * survivors; if every other member is suspect, the next one. Its delivered map output stays behind
   * on the old owner, so every map task ships it again. */
  private reassign(reduce: ReduceTask): void {
    if (reduce.done) return;
    const members = this.config.members;
    const at = members.indexOf(reduce.owner);
    const owned = new Map<NodeId, number>();
    for (const r of this.reduces) if (!r.done && r !== reduce) owned.set(r.owner, (owned.get(r.owner) ?? 0) + 1);
    let best: NodeId | undefined;
    for (let step = 1; step < members.length; step++) {
      const next = members[(at + step) % members.length] as NodeId;
      if (next === reduce.owner || this.suspects.has(next)) continue;
      if (best === undefined || (owned.get(next) ?? 0) < (owned.get(best) ?? 0)) best = next;
    }
    reduce.owner = best ?? (members[(at + 1) % members.length] as NodeId);
    this.stats.reassigned++;
    reduce.delivered.clear();
    for (const task of this.maps.values()) task.pending.add(reduce.partition);
  }

  /** A map attempt could not ship partition `p` to `node`: the owner's fault, not the task's, so it
   * counts against the reduce task and moves the partition (unless it moved already or is reducing). */
  shuffleFailed(p: unknown, node: unknown, nowMs: Millis): void {
    const reduce = typeof p === 'number' ? this.reduces[p] : undefined;
    if (reduce === undefined || reduce.done) return;
    if (reduce.backup?.node === node && node !== reduce.owner) return this.dropBackup(reduce);
    if (this.primaryAttempt(reduce) !== undefined) return;
    if (node !== reduce.owner) return;
    reduce.failures++;
    this.suspect(reduce.owner, nowMs);
    this.reassign(reduce);
  }

  /** Why a map task gave up: a user function over its time budget names its key; else the data. */
  private lostError(task: MapTask): DistError {
    if (task.lastError !== undefined && task.lastError.code.startsWith('E_MR_USER_')) return task.lastError;
    const keys = task.source.keys;
    const named = keys === null ? `every key of ${task.source.gid}` : `${keys.length} keys of ${task.source.gid} (${keys.slice(0, keysNamedMax).join(', ')}${keys.length > keysNamedMax ? ', …' : ''})`;
    const lost = task.lacking.size === task.source.nodes.length;
    const why = lost ? 'no holder has them any more' : `no holder answered in ${task.failures} attempts`;
    return new DistError(lost ? 'E_MR_DATA_LOST' : 'E_MR_DATA_UNREACHABLE', `map task ${task.id} over ${named} on ${task.source.nodes.join(', ')}: ${why}`, {
      task: task.id, gid: task.source.gid, keys: keys?.slice(0, keysNamedMax) ?? null, nodes: [...task.source.nodes],
    });
  }

  // ------------------------------------------------------------------ helpers

  private newAttempt(attempts: Attempt[], node: NodeId, nowMs: Millis): Attempt {
    assert(attempts.length < attemptsPerTaskMax, `at most ${attemptsPerTaskMax} attempts per task`);
    const attempt: Attempt = { no: ++this.attemptSeq, node, deadlineMs: nowMs + this.config.taskTimeoutMs, live: true };
    attempts.push(attempt);
    return attempt;
  }

  /** Ends a live attempt; undefined when it had already ended (timed out, or answered twice). */
  private endAttempt(attempts: Attempt[], no: number): Attempt | undefined {
    const attempt = attempts.find((a) => a.no === no);
    if (attempt === undefined || !attempt.live) return undefined;
    attempt.live = false;
    return attempt;
  }

  private suspect(node: NodeId, nowMs: Millis): void {
    this.suspects.set(node, nowMs + this.config.suspectMs);
  }

  private isSuspect(node: NodeId, nowMs: Millis): boolean {
    const untilMs = this.suspects.get(node);
    if (untilMs === undefined) return false;
    if (untilMs > nowMs) return true;
    this.suspects.delete(node);
    return false;
  }

  private fail(error: DistError): void {
    this.failure ??= error;
  }

  private mapTask(id: string): MapTask {
    const task = this.maps.get(id);
    assert(task !== undefined, `unknown map task ${id}`);
    return task;
  }

  private reduceTask(partition: number): ReduceTask {
    const reduce = this.reduces[partition];
    assert(reduce !== undefined, `unknown partition ${partition}`);
    return reduce;
  }
}
