/**
 * The Env-bound group layer of one node: installs the local `groups` and `gossip` services on a
 * DistNode, answers the node's group-service lookups (`distribution[gid].*`), keeps gossip's seen-set
 * and anti-entropy going, and offers the membership hooks `nodeDead` / `nodeAlive`.
 */
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { addressOf, defineMethod, FifoMap, getSID, type Callback, type DistNode, type NodeAddress, type Service } from '../node/index.js';
import { allGid, GroupsTable, parseGroup, parseGroupConfig, pickSubset, SeenSet, subsetSize, type Group, type GroupConfig } from './core.js';
import { createGroupServices } from './services.js';

export interface GroupsOptions {
  /** Gossip message ids remembered for duplicate suppression. */
  readonly gossipSeenMax?: number;
  /** Gossip messages kept (with their payload) for anti-entropy. */
  readonly gossipRetainedMax?: number;
  /** Period of gossip anti-entropy (one digest exchange with one random member); 0 turns it off. */
  readonly antiEntropyMs?: number;
  /** Periodic tasks (`gossip.at`) one node runs at once. */
  readonly atTasksMax?: number;
}

export const gossipSeenMaxDefault = 4_096;
export const gossipRetainedMaxDefault = 256;
export const antiEntropyMsDefault = 1_000;
export const atTasksMaxDefault = 1_000;

/** What `gossip.recv` carries: the call to run on every member, under a message id. */
export interface GossipPayload {
  readonly mid: string;
  readonly gid: string;
  readonly service: string;
  readonly method: string;
  readonly message: unknown[];
}

/** Result maps of a fan-out, keyed by SID; `errors` is `{}` when nothing failed. */
export type FanOutCallback = (errors: Record<string, Error> | Error, values: Record<string, unknown>) => void;

function isPayload(v: unknown): v is GossipPayload {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.mid === 'string' && typeof p.gid === 'string' && typeof p.service === 'string' && typeof p.method === 'string' && Array.isArray(p.message);
}

/** A member's answer failed unless its error is null or an empty errors map (a remote group service
 * answering `({}, values)` succeeded). */
function isFailure(err: unknown): boolean {
  if (err === null || err === undefined) return false;
  return !(typeof err === 'object' && !(err instanceof Error) && Object.keys(err).length === 0);
}

export class GroupsLayer {
  readonly table: GroupsTable;
  readonly stats = { gossipReceived: 0, gossipDuplicates: 0, gossipForwarded: 0, antiEntropyRounds: 0, antiEntropyRepaired: 0 };
  private readonly seen: SeenSet;
  private readonly retained: FifoMap<string, GossipPayload> | undefined;
  private readonly retainedMax: number;
  private readonly atTasks = new Map<string, number>();
  private readonly atTasksMax: number;
  private readonly cache = new Map<string, { config: GroupConfig; services: Record<string, Service> }>();
  private midSeq = 0;
  private atSeq = 0;

  constructor(
    readonly node: DistNode,
    options: GroupsOptions = {},
  ) {
    this.table = new GroupsTable(node.config);
    this.seen = new SeenSet(options.gossipSeenMax ?? gossipSeenMaxDefault);
    this.retainedMax = options.gossipRetainedMax ?? gossipRetainedMaxDefault;
    this.atTasksMax = options.atTasksMax ?? atTasksMaxDefault;
    assert(Number.isInteger(this.retainedMax) && this.retainedMax >= 0, 'gossipRetainedMax is an integer >= 0');
    this.retained = this.retainedMax > 0 ? new FifoMap(this.retainedMax) : undefined;
    node.services.set('groups', this.localGroupsService());
    node.services.set('gossip', this.localGossipService());
    node.groupResolver = (gid, name) => this.servicesFor(gid)?.[name];
    node.onSpawned = (config) => void this.table.add(allGid, config);
    const antiEntropyMs = options.antiEntropyMs ?? antiEntropyMsDefault;
    assert(Number.isInteger(antiEntropyMs) && antiEntropyMs >= 0, 'antiEntropyMs is an integer >= 0');
    if (antiEntropyMs > 0) this.scheduleAntiEntropy(antiEntropyMs);
  }

  /** `distribution[gid]`: the group services of a group this node knows, else undefined. */
  servicesFor(gid: string): Record<string, Service> | undefined {
    const config = this.table.config(gid);
    if (config === undefined) return undefined;
    let cached = this.cache.get(gid);
    if (cached === undefined || cached.config !== config) {
      cached = { config, services: createGroupServices(this, gid) };
      this.cache.set(gid, cached);
    }
    return cached.services;
  }

  // ------------------------------------------------------------------ membership hooks

  /** Membership says `id` is dead: it leaves every group here, and calls waiting on it fail now. */
  nodeDead(id: NodeId): string[] {
    const left = this.table.removeEverywhere(getSID(addressOf(id)));
    this.node.peerDown(id);
    return left;
  }

  /** Membership says `id` is alive (again): it is in `all` here. Other groups are the application's. */
  nodeAlive(id: NodeId): void {
    this.table.add(allGid, addressOf(id));
  }

  // ------------------------------------------------------------------ fan-out

  /** Calls `service.method(...args)` on every member of `gid`; answers maps keyed by SID. An empty or
   * unknown group answers one error. */
  fanOut(gid: string, service: string, method: string, args: readonly unknown[], callback: FanOutCallback, remoteGid = 'local'): void {
    const members = this.table.members(gid);
    if (members.length === 0) {
      const err = new DistError('E_GROUP_EMPTY', `group ${gid} has no members`, { gid });
      return void this.node.setTimer(0, () => callback(err, {}));
    }
    this.callMembers(members, service, method, args, remoteGid, callback);
  }

  private callMembers(members: readonly [string, NodeAddress][], service: string, method: string, args: readonly unknown[], remoteGid: string, callback: FanOutCallback): void {
    const errors: Record<string, Error> = {};
    const values: Record<string, unknown> = {};
    let waiting = members.length;
    for (const [sid, member] of members) {
      this.node.callRemote(member, service, method, args, (err, value) => {
        if (isFailure(err)) errors[sid] = err as Error;
        else values[sid] = value;
        if (--waiting === 0) callback(errors, values);
      }, { gid: remoteGid });
    }
  }

  // ------------------------------------------------------------------ gossip

  /** Starts a gossip: runs the call here, then sends it to a random subset, which re-gossips. */
  gossipSend(gid: string, message: unknown[], service: string, method: string, callback: FanOutCallback): void {
    const mid = `${this.node.sid}-${this.node.env.random.int(0, 2 ** 31).toString(16)}-${++this.midSeq}`;
    const payload: GossipPayload = { mid, gid, service, method, message };
    this.accept(payload);
    this.node.invokeLocal('local', service, method, message, () => undefined);
    const targets = this.gossipTargets(gid, undefined);
    if (targets.length === 0) return void this.node.setTimer(0, () => callback({}, {}));
    this.callMembers(targets, 'gossip', 'recv', [payload], 'local', callback);
  }

  /** Records a payload as seen (and retained for anti-entropy); false for a duplicate. */
  private accept(payload: GossipPayload): boolean {
    if (!this.seen.add(payload.mid)) return false;
    this.retained?.set(payload.mid, payload);
    return true;
  }

  /** Members to forward to: a random subset of the group other than this node. */
  private gossipTargets(gid: string, size: number | undefined): [string, NodeAddress][] {
    const others = this.table.members(gid).filter(([sid]) => sid !== this.node.sid);
    const k = Math.min(others.length, size ?? subsetSize(this.table.config(gid), this.table.members(gid)));
    const random = this.node.env.random;
    return pickSubset(others, k, (n) => random.int(0, n));
  }

  /** `gossip.recv`: drop duplicates, run the carried call here, forward to a subset. */
  private receive(payload: GossipPayload, reply: Callback): void {
    if (!this.accept(payload)) {
      this.stats.gossipDuplicates++;
      return reply(null, { duplicate: true });
    }
    this.stats.gossipReceived++;
    for (const [, member] of this.gossipTargets(payload.gid, undefined)) {
      this.stats.gossipForwarded++;
      this.node.callRemote(member, 'gossip', 'recv', [payload], () => undefined, { idempotent: true });
    }
    this.node.invokeLocal('local', payload.service, payload.method, payload.message, reply);
  }

  /** Anti-entropy: every period, trade digests with one random member of a group holding retained
   * messages, so a node cut off while a rumour spread still gets it after healing. */
  private scheduleAntiEntropy(periodMs: number): void {
    this.node.setTimer(periodMs, () => {
      this.antiEntropyRound();
      this.scheduleAntiEntropy(periodMs);
    });
  }

  private antiEntropyRound(): void {
    const gids = this.table.gids;
    if (gids.length === 0) return;
    const gid = gids[this.node.env.random.int(0, gids.length)] as string;
    const [target] = this.gossipTargets(gid, 1);
    if (target === undefined) return;
    this.stats.antiEntropyRounds++;
    const mids = this.retainedOf(gid).map((p) => p.mid);
    this.node.callRemote(target[1], 'gossip', 'sync', [gid, mids], (err, value) => {
      if (err !== null || typeof value !== 'object' || value === null) return;
      const { messages, wanted } = value as { messages?: unknown; wanted?: unknown };
      if (Array.isArray(messages)) for (const p of messages) if (isPayload(p)) this.receive(p, () => undefined);
      if (Array.isArray(wanted)) this.sendWanted(target[1], wanted);
    }, { idempotent: true });
  }

  private sendWanted(to: NodeAddress, wanted: readonly unknown[]): void {
    for (const mid of wanted.slice(0, this.retainedMax)) {
      const payload = typeof mid === 'string' ? this.retained?.get(mid) : undefined;
      if (payload === undefined) continue;
      this.stats.antiEntropyRepaired++;
      this.node.callRemote(to, 'gossip', 'recv', [payload], () => undefined, { idempotent: true });
    }
  }

  private retainedOf(gid: string): GossipPayload[] {
    return [...(this.retained?.values() ?? [])].filter((p) => p.gid === gid);
  }

  /** `gossip.sync(gid, mids)`: what the caller lacks, and which of its mids we lack. */
  private sync(gid: unknown, mids: unknown, reply: Callback): void {
    if (typeof gid !== 'string' || !Array.isArray(mids)) return reply(new DistError('E_GOSSIP_BAD_SYNC', 'gossip.sync needs (gid, mids)'));
    const theirs = new Set(mids.slice(0, this.retainedMax));
    const messages = this.retainedOf(gid).filter((p) => !theirs.has(p.mid));
    const wanted = [...theirs].filter((mid) => typeof mid === 'string' && !this.seen.has(mid));
    reply(null, { messages, wanted });
  }

  // ------------------------------------------------------------------ periodic tasks

  /** `gossip.at(periodMs, fn)`: runs fn every periodMs on this node; returns a handle for `del`. */
  at(periodMs: unknown, fn: unknown): string | DistError {
    if (!Number.isInteger(periodMs) || (periodMs as number) < 1) return new DistError('E_GOSSIP_BAD_PERIOD', 'periodMs must be an integer >= 1');
    if (typeof fn !== 'function') return new DistError('E_GOSSIP_BAD_FN', 'at needs a function');
    if (this.atTasks.size >= this.atTasksMax) return new DistError('E_GOSSIP_TOO_MANY_TASKS', `at most ${this.atTasksMax} periodic tasks`);
    const handle = `at-${++this.atSeq}`;
    const tick = (): void => {
      this.atTasks.set(handle, this.node.setTimer(periodMs as number, tick));
      try {
        (fn as () => void)();
      } catch (err) {
        this.node.env.trace.event('gossip.at-threw', { handle, message: (err as Error)?.message ?? String(err) });
      }
    };
    this.atTasks.set(handle, this.node.setTimer(periodMs as number, tick));
    return handle;
  }

  del(handle: unknown): string | DistError {
    const timer = typeof handle === 'string' ? this.atTasks.get(handle) : undefined;
    if (timer === undefined) return new DistError('E_GOSSIP_UNKNOWN_HANDLE', `no periodic task ${String(handle)}`);
    this.node.cancelTimer(timer);
    this.atTasks.delete(handle as string);
    return handle as string;
  }

  // ------------------------------------------------------------------ local services

  private localGroupsService(): Service {
    const answer = (reply: Callback, result: Group | DistError): void => (result instanceof DistError ? reply(result) : reply(null, result));
    return {
      get: defineMethod(1, ([gid], reply) => answer(reply, this.table.get(gid)), { idempotent: true }),
      put: defineMethod(2, ([config, group], reply) => {
        const parsed = parseGroupConfig(config);
        if (parsed instanceof DistError) return reply(parsed);
        const members = parseGroup(group);
        if (members instanceof DistError) return reply(members);
        reply(null, this.table.put(parsed, members));
      }),
      del: defineMethod(1, ([gid], reply) => answer(reply, this.table.del(gid))),
      add: defineMethod(2, ([gid, node], reply) => answer(reply, this.table.add(gid, node))),
      rem: defineMethod(2, ([gid, sid], reply) => answer(reply, this.table.rem(gid, sid))),
    };
  }

  private localGossipService(): Service {
    return {
      recv: defineMethod(1, ([payload], reply) => {
        if (!isPayload(payload)) return reply(new DistError('E_GOSSIP_BAD_PAYLOAD', 'gossip.recv needs {mid, gid, service, method, message[]}'));
        this.receive(payload, reply);
      }, { idempotent: true }),
      sync: defineMethod(2, ([gid, mids], reply) => this.sync(gid, mids, reply), { idempotent: true }),
    };
  }
}
