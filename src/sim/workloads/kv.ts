/**
 * The kv workload and its checker: every node runs the `kv` program (src/protocols/kv: group storage
 * in `store`, SWIM membership, automatic reconfiguration on view changes). Clients put unique values
 * and get them back through random coordinator nodes, on a few hot keys, while the plan crashes,
 * restarts, partitions, drops and fails disk writes; membership views change with every crash and
 * partition, so keys move back and forth.
 *
 * Safety, checked as answers arrive and after every step:
 * - kv.no-invented-value: a get answers a value some put of that key wrote (or not-found);
 * - kv.no-stale-read: a get answers neither not-found nor a value replaced by a later put, when that
 *   later put was acknowledged before the get started (acknowledged = durable on the owner);
 * - kv.single-owner: no two live nodes serve the same key at the same moment;
 * - kv.listing-complete: a listing (`get(null)` of a node's `kv` service) that succeeds holds every key
 *   with a put acknowledged before the listing began, and only keys some put wrote.
 * Liveness, after healing: every key has exactly one serving node, and a final get of every key
 * (through a random node) answers a value that passes both read checks with every put seen so far: no
 * acknowledged write that no later write replaced is lost, and no key reads differently from two owners.
 */
import type { NodeId } from '../../env/index.js';
import { hasCode } from '../../lib/errors.js';
import { createKvNode, kvClientService, type KvNodeHandle } from '../../protocols/kv/program.js';
import { registerWorkload, scheduleOps, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

const keysCount = 8;
const keyOf = (i: number): string => `key-${i}`;
const putShareNum = 3;
const putShareDen = 5;
/** One op in this many is a listing of every key. */
const listEvery = 10;

interface Put {
  readonly value: string;
  readonly invokeMs: number;
  /** Virtual ms of the acknowledgement; Infinity while unanswered or failed (it may still take effect). */
  ackMs: number;
}

interface Get {
  readonly key: string;
  readonly invokeMs: number;
  done: boolean;
  ok: boolean;
}

export class KvRun implements WorkloadRun {
  private readonly puts = new Map<string, Put[]>();
  private readonly probes = new Map<string, Get>();
  private violation: Violation | undefined;
  private healedMs: number | undefined;
  private readonly counts = { puts: 0, putsAcked: 0, gets: 0, getsOk: 0, getsFailed: 0, probesIssued: 0, lists: 0, listsOk: 0 };

  constructor(private readonly ctx: WorkloadContext) {
    for (let i = 0; i < keysCount; i++) this.puts.set(keyOf(i), []);
  }

  private handle(id: NodeId): KvNodeHandle | undefined {
    return this.ctx.sim.inspect(id) as KvNodeHandle | undefined;
  }

  start(): void {
    const { random, nodeIds } = this.ctx;
    scheduleOps(this.ctx, 0.9, (i) => {
      const via = random.pick(nodeIds);
      const key = keyOf(random.int(0, keysCount));
      if (random.chance(1, listEvery)) return () => this.list(via);
      const isPut = random.chance(putShareNum, putShareDen);
      return () => (isPut ? this.put(via, key, `v${i}`) : this.get(via, key));
    });
  }

  private put(via: NodeId, key: string, value: string): void {
    const handle = this.handle(via);
    if (handle === undefined) return;
    const put: Put = { value, invokeMs: this.ctx.sim.now, ackMs: Infinity };
    (this.puts.get(key) as Put[]).push(put);
    this.counts.puts++;
    handle.shards.request(handle.gid, 'put', key, value, (err) => {
      if (err !== null) return;
      put.ackMs = this.ctx.sim.now;
      this.counts.putsAcked++;
    });
  }

  private get(via: NodeId, key: string, probe?: Get): void {
    const handle = this.handle(via);
    if (handle === undefined) return void (probe !== undefined && (probe.done = true));
    const get: Get = probe ?? { key, invokeMs: this.ctx.sim.now, done: false, ok: false };
    this.counts.gets++;
    handle.shards.request(handle.gid, 'get', key, undefined, (err, value) => {
      get.done = true;
      if (err !== null && !hasCode(err, 'E_KV_NOT_FOUND')) return void this.counts.getsFailed++;
      this.counts.getsOk++;
      get.ok = true;
      this.checkRead(key, get.invokeMs, err === null ? (value as string) : undefined);
    });
  }

  /** Lists every key through `via`'s `kv` service, as a client would. */
  private list(via: NodeId): void {
    const handle = this.handle(via);
    if (handle === undefined) return;
    const invokeMs = this.ctx.sim.now;
    this.counts.lists++;
    const service = handle.node.services.get(kvClientService) as { get(key: null, cb: (err: Error | null, keys?: unknown) => void): void };
    service.get(null, (err, keys) => {
      if (err !== null) return;
      this.counts.listsOk++;
      this.checkListing(invokeMs, keys as string[]);
    });
  }

  private checkListing(invokeMs: number, keys: readonly string[]): void {
    const invented = keys.find((key) => !this.puts.has(key) || (this.puts.get(key) as Put[]).length === 0);
    if (invented !== undefined) return this.fail('kv.listing-complete', `a listing at ${invokeMs} named ${invented}, which no put wrote`);
    for (const [key, puts] of this.puts) {
      const acked = puts.find((p) => p.ackMs < invokeMs);
      if (acked !== undefined && !keys.includes(key)) {
        return this.fail('kv.listing-complete', `a listing at ${invokeMs} lacks ${key}, put ${acked.value} acknowledged at ${acked.ackMs}`);
      }
    }
  }

  /** The read must be a written value (or absent) and not replaced by a put acknowledged before the read began. */
  private checkRead(key: string, invokeMs: number, value: string | undefined): void {
    const puts = this.puts.get(key) as Put[];
    const completedBefore = puts.filter((p) => p.ackMs < invokeMs);
    if (value === undefined) {
      if (completedBefore.length > 0) this.fail('kv.no-stale-read', `get ${key} at ${invokeMs} found nothing, but ${completedBefore.map((p) => p.value).join(',')} were acknowledged before`);
      return;
    }
    const written = puts.find((p) => p.value === value);
    if (written === undefined) return this.fail('kv.no-invented-value', `get ${key} answered ${value}, which no put wrote`);
    const replacedBy = completedBefore.find((p) => p.invokeMs > written.ackMs);
    if (replacedBy !== undefined) {
      this.fail('kv.no-stale-read', `get ${key} at ${invokeMs} answered ${value} (acked ${written.ackMs}), replaced by ${replacedBy.value} (put ${replacedBy.invokeMs}, acked ${replacedBy.ackMs})`);
    }
  }

  private fail(invariant: string, message: string): void {
    this.violation ??= { invariant, message };
  }

  private servers(key: string): NodeId[] {
    return this.ctx.nodeIds.filter((id) => {
      const handle = this.handle(id);
      return handle !== undefined && handle.shards.serves(handle.gid, key);
    });
  }

  checkStep(): Violation | undefined {
    if (this.violation !== undefined) return this.violation;
    for (let i = 0; i < keysCount; i++) {
      const servers = this.servers(keyOf(i));
      if (servers.length > 1) return { invariant: 'kv.single-owner', message: `${keyOf(i)} is served by ${servers.join(' and ')}` };
    }
    return undefined;
  }

  checkAll(): Violation | undefined {
    return this.checkStep();
  }

  /** After healing: one final get per key, reissued until it answers; every key settled on one node. */
  isLive(): boolean {
    this.healedMs ??= this.ctx.sim.now;
    let live = true;
    for (let i = 0; i < keysCount; i++) {
      const key = keyOf(i);
      const probe = this.probes.get(key);
      if (probe === undefined || (probe.done && !probe.ok)) {
        const fresh: Get = { key, invokeMs: this.ctx.sim.now, done: false, ok: false };
        this.probes.set(key, fresh);
        this.counts.probesIssued++;
        this.get(this.ctx.random.pick(this.ctx.nodeIds), key, fresh);
      }
      if (!(this.probes.get(key) as Get).ok || this.servers(key).length !== 1) live = false;
    }
    return live;
  }

  livenessReport(): string {
    const unsettled = Array.from({ length: keysCount }, (_, i) => keyOf(i)).filter((k) => this.servers(k).length !== 1);
    const unread = [...this.probes.values()].filter((p) => !p.ok).map((p) => p.key);
    return `keys without exactly one owner: ${unsettled.join(',') || 'none'}; keys not read back: ${unread.join(',') || 'none'}`;
  }

  stats(): Record<string, number> {
    const totals = { roundsInstalled: 0, roundsFailed: 0, recordsMoved: 0, copiesDeleted: 0, refusals: 0 };
    for (const id of this.ctx.nodeIds) {
      const s = this.handle(id)?.shards.stats;
      if (s === undefined) continue;
      totals.roundsInstalled += s.roundsInstalled;
      totals.roundsFailed += s.roundsFailed;
      totals.recordsMoved += s.recordsMoved;
      totals.copiesDeleted += s.copiesDeleted;
      totals.refusals += s.refusals;
    }
    return { ...this.counts, ...totals };
  }
}

/** Membership tuned to detect within the 10 s safety phase, so views (and owners) really change. */
export const kvMembershipArgs = { probeIntervalMs: 300, ackTimeoutMs: 150, suspicionTimeoutMs: 1_200, gossipIntervalMs: 100, syncIntervalMs: 1_000 };

export function kvWorkload(name: string, program: Workload['program'], description: string, mutant = false): Workload {
  return {
    name,
    description,
    program,
    mutant,
    defaults: { nodes: 5, durationMs: 10_000, ops: 300, livenessMsMax: 30_000 },
    nodeArgs: (nodeIds) => ({ nodes: [...nodeIds], callTimeoutMs: 300, placement: { scheme: 'consistent', vnodes: 16 }, membership: kvMembershipArgs }),
    create: (ctx) => new KvRun(ctx),
  };
}

export const kv = kvWorkload('kv', createKvNode, 'group storage under faults: no lost acknowledged write, no stale read, one owner per key, complete listings');
registerWorkload(kv);
