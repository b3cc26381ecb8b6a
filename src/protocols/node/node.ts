/**
 * The Env-bound node: an actor. Calls arrive on the `node` channel, the named service method runs, the
 * reply goes back; calls this node makes carry ids, time out on env.timers (one sweep timer per node, see
 * `callTimeoutSlackMs`) and are retried (same id) only when idempotent. Nothing here knows whether it runs in the simulator or in a real process.
 */
import type { Env, NodeId, NodeProgram, TimerId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';
import { CallTable, RecentCalls } from './core.js';
import { addressOf, getNID, getSID, isNodeAddress, nodeIdOf, type NodeAddress } from './id.js';
import {
  codeOf, decodeArgs, decodeMessage, decodeResult, encodeArgs, encodeCall, encodeReply, encodeResult, idMax, nodeChannel,
  type CallMessage, type ReplyMessage,
} from './messages.js';
import { invokeMethod, isIdempotent, type Callback, type Service } from './method.js';
import { enterNode, isRpcId, leaveNode, rpcStub, withCurrentNode, type RpcCaller } from './rpc.js';
import { createLocalServices, idempotentByDefault } from './services.js';

export interface HeapFigures {
  readonly heapTotal: number;
  readonly heapUsed: number;
}

/** The course's node config: `{ip, port}` plus anything else (`onStart`, ...), kept as given. */
export type NodeConfig = NodeAddress & Record<string, unknown>;

export interface NodeOptions {
  /** This node's course identity; default `addressOf(env.nodeId)`. Must map back to env.nodeId. */
  readonly config?: NodeConfig;
  /** Heap figures for `status.get('heapTotal' | 'heapUsed')`. Passed in so protocols never read the
   * process; the simulator (and the default) report fixed synthetic numbers. */
  readonly heap?: () => HeapFigures;
  /** How long one attempt of a remote call waits for its reply. */
  readonly callTimeoutMs?: number;
  /** Extra attempts of an idempotent call after a timeout (same id; the callee runs it once). */
  readonly callRetriesMax?: number;
  readonly callsInFlightMax?: number;
  /** Calls remembered by the callee for duplicate suppression. */
  readonly recentCallsMax?: number;
  readonly rpcsMax?: number;
  /** The node that spawned this one; asked to stop us on `status.stop`. */
  readonly parent?: NodeId;
  /** How this node ends itself on `status.stop` when it has no parent (a process entry passes one). */
  readonly exit?: () => void;
}

export interface CallOptions {
  /** Remote gid the service is looked up in; `local` (the default) is the node's own services. */
  readonly gid?: string;
  readonly timeoutMs?: number;
  /** Retry on timeout; default: the method is known idempotent (status.get, routes.get, ...). */
  readonly idempotent?: boolean;
}

export interface NodeStats {
  callsSent: number;
  callsHandled: number;
  callsDuplicate: number;
  retries: number;
  timeouts: number;
  peerDownFailures: number;
  repliesUnknown: number;
  repliesExtra: number;
  badMessages: number;
  badArgs: number;
}

export const callTimeoutMsDefault = 1_000;
export const callRetriesMaxDefault = 2;
export const callsInFlightMaxDefault = 10_000;
export const recentCallsMaxDefault = 4_096;
export const rpcsMaxDefault = 100_000;
/** The reply to `status.stop` is on its way before the node goes. */
export const stopAfterReplyMs = 20;
/**
 * Call timeouts are checked by one sweep timer per node, not a timer per call: an attempt times out no
 * earlier than its `timeoutMs` and at most this much later (plus the event loop's own lateness). The
 * sweep is armed only while calls wait, so an idle node holds no timer.
 */
export const callTimeoutSlackMs = 10;
const syntheticHeap: HeapFigures = { heapTotal: 64 * 1024 * 1024, heapUsed: 32 * 1024 * 1024 };
export const nodeProgramName = 'node';

type GroupResolver = (gid: string, service: string) => Service | undefined;

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DistError('E_NODE_CONFIG', `${name} must be an integer in [${min}, ${max}]`, { field: name });
  }
  return value;
}

export class DistNode implements RpcCaller, NodeProgram {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly nid: string;
  readonly sid: string;
  /** Local services by name (`status`, `routes`, `comm`, ...); routes.put/rem edit this map. */
  readonly services = new Map<string, Service>();
  readonly stats: NodeStats = {
    callsSent: 0, callsHandled: 0, callsDuplicate: 0, retries: 0, timeouts: 0, peerDownFailures: 0,
    repliesUnknown: 0, repliesExtra: 0, badMessages: 0, badArgs: 0,
  };
  /** Group services by gid; the groups layer installs it. */
  groupResolver: GroupResolver | undefined;
  /** Told about each node this one spawned (the groups layer adds it to `all`). */
  onSpawned: ((config: NodeConfig) => void) | undefined;
  /** Nodes spawned by this node and still running, by node id. */
  readonly children = new Map<NodeId, NodeConfig>();

  private readonly calls: CallTable<Callback>;
  private readonly recent: RecentCalls;
  private readonly rpcs = new Map<string, Service>();
  private readonly timers = new Set<TimerId>();
  private readonly timeoutMs: number;
  private readonly retriesMax: number;
  private readonly rpcsMax: number;
  private rpcSeq = 0;
  private readonly rpcPrefix: string;
  private stopped = false;
  /** The sweep timer for call timeouts, and when it fires (env clock). */
  private sweepTimer: TimerId | undefined;
  private sweepAtMs = Infinity;

  constructor(
    readonly env: Env,
    readonly options: NodeOptions = {},
  ) {
    this.config = options.config ?? { ...addressOf(env.nodeId) };
    assert(isNodeAddress(this.config), 'node config needs {ip, port}');
    assert(nodeIdOf(this.config) === env.nodeId, `node config ${this.config.ip}:${this.config.port} does not name node ${env.nodeId}`);
    this.id = env.nodeId;
    this.nid = getNID(this.config);
    this.sid = getSID(this.config);
    this.timeoutMs = checkRange('callTimeoutMs', options.callTimeoutMs ?? callTimeoutMsDefault, 1, 600_000);
    this.retriesMax = checkRange('callRetriesMax', options.callRetriesMax ?? callRetriesMaxDefault, 0, 10);
    this.rpcsMax = checkRange('rpcsMax', options.rpcsMax ?? rpcsMaxDefault, 1, 10_000_000);
    const epoch = env.random.int(0, idMax);
    this.calls = new CallTable(epoch, checkRange('callsInFlightMax', options.callsInFlightMax ?? callsInFlightMaxDefault, 1, 1_000_000));
    this.recent = new RecentCalls(checkRange('recentCallsMax', options.recentCallsMax ?? recentCallsMaxDefault, 1, 1_000_000));
    // The epoch also names this incarnation's RPCs, so a restarted node never answers an old stub.
    this.rpcPrefix = `rpc-${epoch.toString(16)}-`;
    for (const [name, service] of createLocalServices(this)) this.services.set(name, service);
    env.net.listen(nodeChannel, (from, payload) => {
      const previous = enterNode(this);
      try {
        this.onMessage(from, payload);
      } finally {
        leaveNode(previous);
      }
    });
  }

  // ------------------------------------------------------------------ public API

  /** Promise form of `callRemote`, for TypeScript users. Rejects with the (coded) error. */
  call<T = unknown>(target: NodeId | NodeAddress, service: string, method: string, args: readonly unknown[] = [], options: CallOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.callRemote(target, service, method, args, (err, value) => (err === null ? resolve(value as T) : reject(err)), options);
    });
  }

  /**
   * Calls `service.method(...args)` on `target` and answers `callback(err, value)` exactly once: the
   * remote method's answer, or E_NODE_TIMEOUT / E_NODE_PEER_DOWN / E_NODE_BUSY / E_NODE_ARGS_UNENCODABLE /
   * E_NODE_STOPPED. Always asynchronous. A call to this node itself goes through the network too, so
   * arguments are copies whatever the target.
   */
  callRemote(target: NodeId | NodeAddress, service: string, method: string, args: readonly unknown[], callback: Callback, options: CallOptions = {}): void {
    assert(typeof callback === 'function', 'callRemote needs a callback');
    const previous = enterNode(this);
    try {
      this.startCall(typeof target === 'string' ? target : nodeIdOf(target), service, method, args, callback, options);
    } finally {
      leaveNode(previous);
    }
  }

  /** Runs a local service method as a network call would (same lookup, same once-only reply), without
   * copying arguments. For the groups layer and the facade. */
  invokeLocal(gid: string, service: string, method: string, args: readonly unknown[], callback: Callback): void {
    withCurrentNode(this, () => this.dispatch(this.resolveService(gid, service), gid, service, method, args, callback));
  }

  /** Registers `fn` under a fresh rpc id and returns a stub that calls it here from any node. */
  createRPC(fn: Function): (...args: unknown[]) => void {
    assert(typeof fn === 'function', 'createRPC needs a function');
    if (this.rpcs.size >= this.rpcsMax) throw new DistError('E_RPC_TABLE_FULL', `at most ${this.rpcsMax} rpcs per node`);
    const rpcId = `${this.rpcPrefix}${++this.rpcSeq}`;
    this.rpcs.set(rpcId, { call: fn });
    return rpcStub(this.id, rpcId);
  }

  /** Called by stubs: `{service: rpcId, method: 'call'}` on the creator. */
  callRpc(creator: NodeId, rpcId: string, args: unknown[], callback: Callback): void {
    this.callRemote(creator, rpcId, 'call', args, callback, { idempotent: false });
  }

  /** Resolves a service the way routes.get does: `local` services and rpc ids, else a group's. */
  resolveService(gid: string, name: string): Service | undefined {
    if (gid === 'local') return this.services.get(name) ?? (isRpcId(name) ? this.rpcs.get(name) : undefined);
    return this.groupResolver?.(gid, name);
  }

  /** Fails every call waiting on `peer` with E_NODE_PEER_DOWN (membership calls this via groups). */
  peerDown(peer: NodeId): void {
    for (const call of this.calls.toPeer(peer)) {
      this.stats.peerDownFailures++;
      this.fail(call.seq, new DistError('E_NODE_PEER_DOWN', `node ${peer} is down`, { node: peer }));
    }
  }

  /** A timer owned by this node: cancelled on stop, and its callback runs with this node current. */
  setTimer(delayMs: number, onFire: () => void): TimerId {
    const id: TimerId = this.env.timers.set(delayMs, () => {
      this.timers.delete(id);
      withCurrentNode(this, onFire);
    });
    this.timers.add(id);
    return id;
  }

  cancelTimer(id: TimerId): void {
    this.timers.delete(id);
    this.env.timers.cancel(id);
  }

  get callsInFlight(): number {
    return this.calls.size;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  heap(): HeapFigures {
    return this.options.heap?.() ?? syntheticHeap;
  }

  /** Spawns a node running the `node` program with `config`; answers `(null, config)` once it is up. */
  spawn(config: NodeConfig, callback: Callback): void {
    const id = nodeIdOf(config);
    const { heap, callTimeoutMs, callRetriesMax } = this.options;
    const args = { config, parent: this.id, heap, callTimeoutMs, callRetriesMax };
    this.env.hosts.spawn({ id, program: nodeProgramName, args }, (result) =>
      withCurrentNode(this, () => {
        if (!result.ok) return callback(new DistError(result.error.code, result.error.message, { node: id }));
        this.children.set(id, config);
        this.onSpawned?.(config);
        callback(null, config);
      }),
    );
  }

  /** Ends this node after its `status.stop` reply has left: through its parent, its exit hook, or hosts. */
  stopSelf(): void {
    this.setTimer(stopAfterReplyMs, () => {
      const parent = this.options.parent;
      if (parent === undefined) return this.endSelf();
      // A parent that is gone (or no longer knows us) cannot stop us: then we end ourselves.
      this.callRemote(parent, 'status', 'reap', [this.id], (err, reaped) => {
        if (err !== null || reaped !== true) this.endSelf();
      }, { idempotent: true });
    });
  }

  private endSelf(): void {
    if (this.options.exit !== undefined) this.options.exit();
    else this.env.hosts.stop(this.id);
  }

  /** Stops a child this node spawned (its own `status.stop` asks us to). Unknown ids are ignored. */
  reap(id: NodeId): boolean {
    if (!this.children.has(id)) return false;
    this.children.delete(id);
    this.env.hosts.stop(id);
    return true;
  }

  /** NodeProgram.stop: timers cancelled, calls in flight fail with E_NODE_STOPPED. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const id of this.timers) this.env.timers.cancel(id);
    this.timers.clear();
    this.sweepTimer = undefined;
    this.sweepAtMs = Infinity;
    for (const call of this.calls.all()) this.fail(call.seq, new DistError('E_NODE_STOPPED', 'node stopped'));
  }

  inspect(): DistNode {
    return this;
  }

  // ------------------------------------------------------------------ caller side

  /** Answers a call that was never sent, asynchronously like any other answer. */
  private refuse(callback: Callback, err: DistError): void {
    this.setTimer(0, () => callback(err));
  }

  private startCall(to: NodeId, service: string, method: string, args: readonly unknown[], callback: Callback, options: CallOptions): void {
    if (this.stopped) return this.refuse(callback, new DistError('E_NODE_STOPPED', 'node stopped'));
    if (this.calls.full) return this.refuse(callback, new DistError('E_NODE_BUSY', `${this.calls.inFlightMax} calls already in flight`));
    const argsBytes = encodeArgs(args);
    if (argsBytes instanceof DistError) return this.refuse(callback, argsBytes);
    const gid = options.gid ?? 'local';
    const seq = this.calls.reserve();
    const payload = encodeCall(this.calls.epoch, seq, gid, service, method, argsBytes);
    if (payload instanceof DistError) return this.refuse(callback, payload);
    const idempotent = options.idempotent ?? idempotentByDefault(service, method);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      this.env.net.send(to, nodeChannel, payload, true);
    } catch (err) {
      return this.refuse(callback, new DistError(codeOf(err), 'call cannot be sent', { node: to, service, method }));
    }
    this.stats.callsSent++;
    const deadlineMs = this.env.clock.now() + timeoutMs;
    this.calls.open({ seq, to, payload, idempotent, timeoutMs, attempts: 1, deadlineMs, callback });
    this.armSweep(deadlineMs);
  }

  /** Makes sure the sweep runs by `deadlineMs + callTimeoutSlackMs`. */
  private armSweep(deadlineMs: number): void {
    if (this.sweepTimer !== undefined) {
      if (this.sweepAtMs <= deadlineMs + callTimeoutSlackMs) return;
      this.cancelTimer(this.sweepTimer);
    }
    const nowMs = this.env.clock.now();
    this.sweepAtMs = Math.max(deadlineMs, nowMs);
    this.sweepTimer = this.setTimer(this.sweepAtMs - nowMs, () => this.sweep());
  }

  /** No call waits: no timer may keep a process alive or a simulation busy. */
  private disarmSweepIfIdle(): void {
    if (this.calls.size > 0 || this.sweepTimer === undefined) return;
    this.cancelTimer(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAtMs = Infinity;
  }

  /** Times out (or retries) every call whose attempt is due, then re-arms for the next deadline. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAtMs = Infinity;
    const nowMs = this.env.clock.now();
    try {
      for (const call of this.calls.due(nowMs)) this.onCallTimeout(call.seq, nowMs);
    } finally {
      // Re-armed even if a callback threw, so the other calls still time out.
      const next = this.calls.earliestDeadline();
      if (next !== Infinity && !this.stopped) this.armSweep(Math.max(next, nowMs + callTimeoutSlackMs));
    }
  }

  private onCallTimeout(seq: number, nowMs: number): void {
    const call = this.calls.get(seq);
    if (call === undefined) return; // settled by an earlier timeout's callback in the same sweep
    if (call.idempotent && call.attempts <= this.retriesMax) {
      call.attempts++;
      this.stats.retries++;
      this.env.net.send(call.to, nodeChannel, call.payload, true);
      call.deadlineMs = nowMs + call.timeoutMs;
      return;
    }
    this.stats.timeouts++;
    this.env.trace.event('node.call-timeout', { to: call.to, seq, attempts: call.attempts });
    this.fail(seq, new DistError('E_NODE_TIMEOUT', `no reply from ${call.to} after ${call.attempts} attempt(s)`, { node: call.to, attempts: call.attempts }));
  }

  private fail(seq: number, err: DistError): void {
    const call = this.calls.settle(this.calls.epoch, seq);
    if (call === undefined) return;
    this.disarmSweepIfIdle();
    call.callback(err);
  }

  private handleReply(message: ReplyMessage): void {
    const call = this.calls.settle(message.epoch, message.seq);
    if (call === undefined) {
      // A duplicate, a reply after a timeout, or one meant for an earlier incarnation.
      this.stats.repliesUnknown++;
      return;
    }
    this.disarmSweepIfIdle();
    const [err, value] = decodeResult(message.resultBytes);
    call.callback(err, value);
  }

  // ------------------------------------------------------------------ callee side

  private onMessage(from: NodeId, payload: Uint8Array): void {
    if (this.stopped) return;
    const message = decodeMessage(payload);
    if (message instanceof DistError) {
      this.stats.badMessages++;
      this.env.trace.event('node.bad-message', { from, code: message.code });
      return;
    }
    if (message.type === 'reply') return this.handleReply(message);
    this.handleCall(from, message);
  }

  private handleCall(from: NodeId, message: CallMessage): void {
    const service = this.resolveService(message.gid, message.service);
    // A method declared idempotent may simply run again for a duplicate (a retry, or the network's), so its
    // calls are not remembered: keeping every reply alive for `recentCallsMax` calls was ~15% of an
    // answering node's CPU per call under load (the replies outlive the young generation).
    const remembered = service === undefined || !isIdempotent(service[message.method]);
    if (remembered) {
      const state = this.recent.begin(from, message.epoch, message.seq);
      if (state.kind !== 'new') {
        this.stats.callsDuplicate++;
        if (state.kind === 'done') this.env.net.send(from, nodeChannel, state.reply);
        return;
      }
    }
    const answer: Callback = (err, value) => {
      const reply = encodeReply(message.epoch, message.seq, encodeResult(err, value));
      if (remembered) this.recent.finish(from, message.epoch, message.seq, reply);
      if (!this.stopped) this.env.net.send(from, nodeChannel, reply);
    };
    const args = decodeArgs(message.argsBytes);
    if (args instanceof DistError) {
      this.stats.badArgs++;
      return answer(args);
    }
    this.stats.callsHandled++;
    this.dispatch(service, message.gid, message.service, message.method, args, answer);
  }

  private dispatch(service: Service | undefined, gid: string, serviceName: string, method: string, args: readonly unknown[], answer: Callback): void {
    if (service === undefined) {
      return answer(new DistError('E_NODE_NO_SERVICE', `no service ${serviceName} in ${gid}`, { gid, service: serviceName }));
    }
    const found = invokeMethod(service, method, args, answer, () => void this.stats.repliesExtra++);
    if (!found) answer(new DistError('E_NODE_NO_METHOD', `no method ${serviceName}.${method}`, { gid, service: serviceName, method }));
  }
}
