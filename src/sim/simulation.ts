/**
 * The simulation: virtual time, one event queue, simulated hosts with their network, disk, clock,
 * timers, randomness and web, and the fault plan that breaks them. See index.ts for the public API.
 *
 * The loop is plain and synchronous: pop the earliest event, set the clock, run its handler to
 * completion, repeat. Nothing here awaits, so virtual time can never move under a pending continuation.
 */
import type { DiskOp, DiskWriteResult, Env, MessageHandler, NodeFactory, NodeId, NodeProgram, NodeSpec, SpawnResult, TimerId, TraceFields, WebResponse } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { getProgram } from '../lib/programs.js';
import { EventQueue, type Scheduled } from './event-queue.js';
import { type ClockFault, type FaultCounts, type FaultPlan, type PartitionFault, type PauseFault, quietPlan, type SlowNodeFault, validatePlan, zeroFaultCounts } from './faults.js';
import { bytesHash32 } from './hash.js';
import { SimDisk, type PendingBatch } from './disk.js';
import { SimRandom } from './random.js';
import { Tracer, type TraceSink } from './trace.js';
import { SimWeb, webUnavailable } from './web.js';

const deliverKind = 0;
const timerKind = 1;
/** A callback owned by one incarnation of a node (disk landing, web response, spawn result). */
const nodeCallKind = 2;
/** A simulator action (scheduled fault, workload driver step); belongs to no node. */
const systemKind = 3;

/** Default largest payload; the real runtime enforces its own limit with the same code. */
export const payloadBytesMaxDefault = 1 << 20;
/** A run that dispatches more events than this is spinning; it stops with `halt.kind = 'budget'`. */
export const eventsMaxDefault = 50_000_000;
/** How long a simulated spawn takes before the new node accepts messages. */
const spawnDelayMs = 5;
/** Node ids are short; anything longer is a bug in a test or a config. */
const nodeIdCharsMax = 64;

class SimEvent implements Scheduled {
  time = 0;
  seq = 0;
  cancelled = false;
  constructor(
    readonly kind: number,
    readonly node: SimNode | undefined,
    readonly incarnation: number,
    readonly fn: (() => void) | undefined,
    /** Timer id for timers; unused otherwise. */
    readonly id: number,
    // Delivery fields (empty for other kinds; one shape keeps the dispatch monomorphic).
    readonly from: Endpoint | undefined,
    readonly to: Endpoint | undefined,
    readonly channel: string,
    readonly payload: Uint8Array | undefined,
    readonly hash: number,
  ) {}
}

interface Endpoint {
  readonly id: NodeId;
  /** JSON-quoted id, cached: trace lines use it on every event. */
  readonly quoted: string;
  readonly isClient: boolean;
  readonly handlers: Map<string, MessageHandler>;
}

class SimNode implements Endpoint {
  readonly quoted: string;
  readonly isClient = false;
  readonly handlers = new Map<string, MessageHandler>();
  readonly timers = new Map<TimerId, SimEvent>();
  readonly disk = new SimDisk();
  up = false;
  stopped = false;
  incarnation = 0;
  /** Until when a pause fault holds the node (0: running). */
  pausedUntilMs = 0;
  /** What fell due while paused, in order; it runs when the pause ends. */
  deferred: SimEvent[] = [];
  program: NodeProgram | undefined;

  constructor(
    readonly id: NodeId,
    readonly programName: string,
    readonly factory: NodeFactory,
    readonly args: unknown,
    readonly clock: ClockFault | undefined,
  ) {
    this.quoted = JSON.stringify(id);
  }

  /** The node's (possibly skewed) reading of virtual time `t`: offset plus drift, floored, never < 0. */
  clockNow(t: number): number {
    const c = this.clock;
    if (c === undefined) return t;
    return Math.max(0, Math.floor(c.offsetMs + t * (1 + c.driftPpm / 1e6)));
  }
}

class SimClient implements Endpoint {
  readonly quoted: string;
  readonly isClient = true;
  readonly handlers = new Map<string, MessageHandler>();
  constructor(readonly id: NodeId) {
    this.quoted = JSON.stringify(id);
  }
}

/** A simulated outside client: sends into the cluster and listens for replies, through the same
 * faulty network as the nodes (but it is never partitioned, crashed or skewed). */
export interface SimClientHandle {
  readonly id: NodeId;
  send(to: NodeId, channel: string, payload: Uint8Array): void;
  listen(channel: string, onMessage: MessageHandler): void;
}

/** Why a run stopped early. */
export type Halt =
  | { readonly kind: 'violation'; readonly invariant: string; readonly message: string }
  | { readonly kind: 'node-threw'; readonly node: NodeId; readonly code: string; readonly message: string }
  | { readonly kind: 'budget'; readonly message: string };

export interface SimulationOptions {
  readonly seed: number;
  /** The concrete fault plan (see faults.ts: drawPlan). Default: no faults, 1 ms latency. */
  readonly plan?: FaultPlan;
  /** Node ids the plan may name; the plan is validated against them. Default: the ids the plan names. */
  readonly nodeIds?: readonly NodeId[];
  /** Where trace lines go besides the hash (a file, memory). Default: hash only. */
  readonly trace?: TraceSink;
  /** Extra header fields (workload, config) written before the plan. */
  readonly header?: Record<string, unknown>;
  readonly webPagesCount?: number;
  readonly payloadBytesMax?: number;
  readonly eventsMax?: number;
}

interface ActivePartition {
  readonly fault: PartitionFault;
  readonly side: ReadonlySet<NodeId>;
}

interface ActiveClog {
  depth: number;
  readonly held: SimEvent[];
}

export class Simulation {
  readonly seed: number;
  readonly plan: FaultPlan;
  readonly faults: FaultCounts = zeroFaultCounts();
  readonly web: SimWeb;
  readonly payloadBytesMax: number;
  /** Called after every step that ran node code (delivery, timer, disk/web callback, boot). */
  onStep: ((node: NodeId) => void) | undefined;

  private nowMs = 0;
  private dispatched = 0;
  private readonly eventsMax: number;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly tracer: Tracer;
  private readonly root: SimRandom;
  private readonly netRandom: SimRandom;
  private readonly diskRandom: SimRandom;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly quotedChannels = new Map<string, string>();
  private readonly clocks = new Map<NodeId, ClockFault>();
  private faultsActive = true;
  private partitions: ActivePartition[] = [];
  private readonly clogs = new Map<string, ActiveClog>();
  /** Active slow-node faults' lags by node (several at once on one node: the largest counts). */
  private readonly inboundLags = new Map<NodeId, number[]>();
  /** Pause faults started and not yet over (a fast path for step). */
  private pausesActive = 0;
  private nextTimerId = 1;
  private halted: Halt | undefined;

  constructor(options: SimulationOptions) {
    assert(Number.isSafeInteger(options.seed), `seed must be a safe integer: ${options.seed}`);
    this.seed = options.seed;
    this.plan = options.plan ?? quietPlan();
    validatePlan(this.plan, options.nodeIds ?? planNodeIds(this.plan));
    this.root = SimRandom.root(options.seed);
    this.netRandom = this.root.fork('net');
    this.diskRandom = this.root.fork('disk');
    this.web = new SimWeb(this.root.fork('web'), options.webPagesCount ?? 1000);
    this.payloadBytesMax = options.payloadBytesMax ?? payloadBytesMaxDefault;
    this.eventsMax = options.eventsMax ?? eventsMaxDefault;
    this.tracer = new Tracer(options.trace);
    this.tracer.header({ seed: options.seed, ...(options.header ?? {}), plan: this.plan });
    for (const c of this.plan.clocks) this.clocks.set(c.node, c);
    this.schedulePlan();
  }

  // ---------------------------------------------------------------- public surface

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.nowMs;
  }

  /** Events dispatched so far (skipped ones, like cancelled timers, do not count). */
  get events(): number {
    return this.dispatched;
  }

  get traceHash(): string {
    return this.tracer.digest();
  }

  get traceLines(): number {
    return this.tracer.lines;
  }

  get halt(): Halt | undefined {
    return this.halted;
  }

  get healed(): boolean {
    return !this.faultsActive;
  }

  get nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  isUp(id: NodeId): boolean {
    return this.nodeOf(id).up;
  }

  /** How many times the node has booted (1 after the first start). */
  incarnation(id: NodeId): number {
    return this.nodeOf(id).incarnation;
  }

  /** The node program's `inspect()`, or undefined when the node is down or has no inspect. */
  inspect(id: NodeId): unknown {
    const node = this.nodeOf(id);
    return node.up ? node.program?.inspect?.() : undefined;
  }

  /** Keys on the node's disk as reads see them (durable plus pending). For checkers and tests. */
  diskKeyCount(id: NodeId): number {
    return this.nodeOf(id).disk.keyCount;
  }

  /** Adds and boots a node now. `program` is a registered program name or a factory. */
  addNode(id: NodeId, program: string | NodeFactory, args?: unknown): void {
    assert(typeof id === 'string' && id.length > 0 && id.length <= nodeIdCharsMax, `bad node id: ${String(id)}`);
    assert(!this.endpoints.has(id), `endpoint already exists: ${id}`);
    const factory = typeof program === 'string' ? getProgram(program) : program;
    if (factory === undefined) throw new DistError('E_UNKNOWN_PROGRAM', `no program registered as ${String(program)}`, { program });
    const name = typeof program === 'string' ? program : factory.name || 'anonymous';
    const node = new SimNode(id, name, factory, args, this.clocks.get(id));
    this.nodes.set(id, node);
    this.endpoints.set(id, node);
    if (node.clock !== undefined && (node.clock.offsetMs !== 0 || node.clock.driftPpm !== 0)) this.faults.clockSkew++;
    this.boot(node);
  }

  /** A client endpoint named `id` (e.g. `c1`); created on first use. */
  client(id: NodeId): SimClientHandle {
    let endpoint = this.endpoints.get(id);
    if (endpoint === undefined) {
      endpoint = new SimClient(id);
      this.endpoints.set(id, endpoint);
    }
    assert(endpoint.isClient, `${id} is a node, not a client`);
    const client = endpoint;
    return {
      id,
      send: (to, channel, payload) => this.send(client, to, channel, payload),
      listen: (channel, onMessage) => {
        client.handlers.set(channel, onMessage);
      },
    };
  }

  /** Crashes a node now: timers and memory are gone, pending disk writes are lost, the disk stays. */
  crash(id: NodeId): void {
    const node = this.nodeOf(id);
    if (!node.up) return;
    this.takeDown(node);
    const lost = node.disk.crash();
    this.faults.crash++;
    this.faults.unsyncedWriteLost += lost;
    this.tracer.event(this.nowMs, id, 'crash', { lostBatches: lost });
  }

  /** Restarts a crashed node now: the factory runs again over the durable disk. */
  restart(id: NodeId): void {
    const node = this.nodeOf(id);
    if (node.up || node.stopped) return;
    this.faults.restart++;
    this.boot(node);
  }

  /** A clean stop: the program's stop() runs, pending writes are flushed, the node stays down. */
  stop(id: NodeId): void {
    const node = this.nodeOf(id);
    if (!node.up) {
      node.stopped = true;
      return;
    }
    this.runNodeCode(node, () => node.program?.stop?.());
    this.takeDown(node);
    node.stopped = true;
    node.disk.flush();
    this.tracer.event(this.nowMs, id, 'stop');
  }

  /** Schedules a simulator action at virtual time `atMs` (>= now). */
  at(atMs: number, fn: () => void): void {
    assert(atMs >= this.nowMs, `cannot schedule in the past: ${atMs} < ${this.nowMs}`);
    const ev = new SimEvent(systemKind, undefined, 0, fn, 0, undefined, undefined, '', undefined, 0);
    ev.time = atMs;
    this.queue.push(ev);
  }

  /** Records a simulator-level trace event (workload drivers, checkers). */
  traceEvent(node: string, kind: string, fields?: TraceFields): void {
    this.tracer.event(this.nowMs, node, kind, fields);
  }

  /** Stops the run at the end of the current step with `halt`. The first halt wins. */
  stopWith(halt: Halt): void {
    if (this.halted === undefined) {
      this.halted = halt;
      this.tracer.event(this.nowMs, 'sim', 'halt', { ...halt });
    }
  }

  /** Runs events due at or before `timeMs`, then moves the clock to `timeMs` (unless halted). */
  runUntil(timeMs: number): void {
    assert(timeMs >= this.nowMs, `runUntil into the past: ${timeMs} < ${this.nowMs}`);
    const queue = this.queue;
    while (this.halted === undefined) {
      const next = queue.peek();
      if (next === undefined || next.time > timeMs) break;
      this.step();
    }
    if (this.halted === undefined) this.nowMs = timeMs;
  }

  /** Runs one event; false when the queue is empty or the run halted. */
  step(): boolean {
    if (this.halted !== undefined) return false;
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.nowMs = ev.time;
    if (this.pausesActive > 0 && this.deferIfPaused(ev)) return true;
    switch (ev.kind) {
      case deliverKind:
        this.deliver(ev);
        break;
      case timerKind:
        this.fireTimer(ev);
        break;
      case nodeCallKind:
        this.nodeCall(ev);
        break;
      default:
        this.dispatched++;
        (ev.fn as () => void)();
    }
    if (this.dispatched >= this.eventsMax) this.stopWith({ kind: 'budget', message: `event budget of ${this.eventsMax} exhausted` });
    return true;
  }

  /** Ends the fault phase: partitions and clogs lift (held messages are released), paused nodes resume,
   * crashed nodes restart, and loss, duplication, reordering, tail latency, slow nodes and disk faults stop. */
  heal(): void {
    if (!this.faultsActive) return;
    this.faultsActive = false;
    this.tracer.event(this.nowMs, 'sim', 'heal');
    this.partitions = [];
    this.inboundLags.clear();
    for (const node of this.nodes.values()) this.endPause(node);
    for (const key of [...this.clogs.keys()]) this.releaseClog(key);
    for (const node of this.nodes.values()) if (!node.up && !node.stopped) this.restart(node.id);
  }

  /** Writes the trace end line and closes the sink. */
  finish(endFields: Record<string, unknown>): void {
    this.tracer.end({ ...endFields, traceHash: this.tracer.digest() });
  }

  // ---------------------------------------------------------------- nodes

  private nodeOf(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new DistError('E_UNKNOWN_NODE', `no simulated node ${id}`, { id });
    return node;
  }

  private boot(node: SimNode): void {
    assert(!node.up, `boot of a running node ${node.id}`);
    node.incarnation++;
    node.up = true;
    this.tracer.event(this.nowMs, node.id, 'start', { incarnation: node.incarnation, program: node.programName });
    const env = this.makeEnv(node);
    this.runNodeCode(node, () => {
      node.program = node.factory(env, node.args);
    });
  }

  private takeDown(node: SimNode): void {
    this.endPause(node); // what it deferred finds the node down: messages are lost, timers dropped
    node.up = false;
    node.program = undefined;
    node.handlers.clear();
    for (const ev of node.timers.values()) ev.cancelled = true;
    node.timers.clear();
  }

  /** Runs node code; an exception from a node is a failed run (the protocol broke), not a sim crash. */
  private runNodeCode(node: SimNode, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.nodeThrew(node, err);
      return;
    }
    if (this.onStep !== undefined && this.halted === undefined) this.onStep(node.id);
  }

  private nodeThrew(node: SimNode, err: unknown): void {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'E_THROWN';
    const message = err instanceof Error ? err.message : String(err);
    this.stopWith({ kind: 'node-threw', node: node.id, code, message });
  }

  private makeEnv(node: SimNode): Env {
    const incarnation = node.incarnation;
    const live = (): boolean => node.up && node.incarnation === incarnation;
    return {
      nodeId: node.id,
      clock: { now: () => node.clockNow(this.nowMs) },
      timers: {
        set: (delayMs, onFire) => this.setTimer(node, incarnation, delayMs, onFire),
        cancel: (id) => this.cancelTimer(node, id),
      },
      random: this.root.fork(`node/${node.id}/${incarnation}`),
      net: {
        send: (to, channel, payload) => {
          if (live()) this.send(node, to, channel, payload);
        },
        listen: (channel, onMessage) => {
          if (live()) node.handlers.set(channel, onMessage);
        },
        payloadBytesMax: this.payloadBytesMax,
      },
      disk: {
        get: (key) => node.disk.get(key),
        read: (key, visit) => node.disk.read(key, visit),
        scan: (range) => node.disk.scan(range),
        write: (batch, onDurable) => this.diskWrite(node, incarnation, batch, onDurable),
      },
      hosts: {
        spawn: (spec, onUp) => this.spawn(node, incarnation, spec, onUp),
        stop: (id) => this.at(this.nowMs, () => this.stop(id)),
      },
      web: { get: (url, onResponse) => this.webGet(node, incarnation, url, onResponse) },
      trace: {
        event: (kind, fields) => {
          if (live()) this.tracer.event(this.nowMs, node.id, kind, fields);
        },
      },
    };
  }

  // ---------------------------------------------------------------- timers

  private setTimer(node: SimNode, incarnation: number, delayMs: number, onFire: () => void): TimerId {
    assert(Number.isFinite(delayMs) && delayMs >= 0, `timer delay must be a finite number >= 0: ${delayMs}`);
    assert(typeof onFire === 'function', 'timer callback must be a function');
    const id = this.nextTimerId++;
    if (!node.up || node.incarnation !== incarnation) return id;
    const ev = new SimEvent(timerKind, node, incarnation, onFire, id, undefined, undefined, '', undefined, 0);
    ev.time = this.nowMs + Math.ceil(delayMs);
    node.timers.set(id, ev);
    this.queue.push(ev);
    return id;
  }

  private cancelTimer(node: SimNode, id: TimerId): void {
    const ev = node.timers.get(id);
    if (ev === undefined) return;
    ev.cancelled = true;
    node.timers.delete(id);
  }

  private fireTimer(ev: SimEvent): void {
    const node = ev.node as SimNode;
    if (ev.cancelled || !node.up || node.incarnation !== ev.incarnation) return;
    node.timers.delete(ev.id);
    this.dispatched++;
    const t = this.tracer;
    t.open(this.nowMs, node.quoted, 'timer');
    t.s(',"id":');
    t.n(ev.id);
    t.close();
    this.runNodeCode(node, ev.fn as () => void);
  }

  private nodeCall(ev: SimEvent): void {
    const node = ev.node as SimNode;
    if (!node.up || node.incarnation !== ev.incarnation) return;
    this.dispatched++;
    this.runNodeCode(node, ev.fn as () => void);
  }

  private callNode(node: SimNode, incarnation: number, atMs: number, fn: () => void): void {
    const ev = new SimEvent(nodeCallKind, node, incarnation, fn, 0, undefined, undefined, '', undefined, 0);
    ev.time = atMs;
    this.queue.push(ev);
  }

  // ---------------------------------------------------------------- network

  private quoteChannel(channel: string): string {
    let quoted = this.quotedChannels.get(channel);
    if (quoted === undefined) {
      quoted = JSON.stringify(channel);
      this.quotedChannels.set(channel, quoted);
    }
    return quoted;
  }

  private send(src: Endpoint, to: NodeId, channel: string, payload: Uint8Array): void {
    if (!(payload instanceof Uint8Array)) throw new DistError('E_NET_PAYLOAD', 'payload must be a Uint8Array', { to, channel });
    if (payload.length > this.payloadBytesMax) {
      throw new DistError('E_NET_TOO_LARGE', `payload of ${payload.length} bytes exceeds ${this.payloadBytesMax}`, { to, channel });
    }
    assert(typeof channel === 'string' && channel.length > 0, 'channel must be a non-empty string');
    // Copy on send: the receiver gets its own bytes, so nodes can never alias each other's state.
    const bytes = payload.slice();
    const hash = bytesHash32(bytes);
    const dst = this.endpoints.get(to);
    let fate = 'ok';
    let atMs = -1;
    if (dst === undefined) fate = 'unknown';
    else if (this.faultsActive && this.partitioned(src, dst)) {
      fate = 'partition';
      this.faults.partitionDrop++;
    } else if (this.faultsActive && this.netRandom.bernoulli(this.plan.lossChance)) {
      fate = 'loss';
      this.faults.loss++;
    } else {
      const lagMs = this.inboundLagMs(dst.id);
      atMs = this.nowMs + this.latencyMs() + lagMs;
      if (this.enqueueDelivery(src, dst, channel, bytes, hash, atMs)) fate = 'clog';
      if (this.faultsActive && this.netRandom.bernoulli(this.plan.duplicateChance)) {
        this.faults.duplicate++;
        fate = fate === 'ok' ? 'dup' : fate;
        this.enqueueDelivery(src, dst, channel, bytes.slice(), hash, this.nowMs + this.latencyMs() + lagMs);
      }
    }
    const t = this.tracer;
    t.open(this.nowMs, src.quoted, 'send');
    t.s(',"at":');
    t.n(atMs);
    t.s(',"ch":');
    t.s(this.quoteChannel(channel));
    t.s(',"fate":"');
    t.s(fate);
    t.s('","h":');
    t.n(hash);
    t.s(',"len":');
    t.n(bytes.length);
    t.s(',"to":');
    t.s(dst?.quoted ?? JSON.stringify(to));
    t.close();
  }

  /** Queues a delivery, or holds it when the link is clogged. Returns true if held. */
  private enqueueDelivery(src: Endpoint, dst: Endpoint, channel: string, bytes: Uint8Array, hash: number, atMs: number): boolean {
    const ev = new SimEvent(deliverKind, undefined, 0, undefined, 0, src, dst, channel, bytes, hash);
    ev.time = atMs;
    if (this.clogs.size > 0) {
      const clog = this.clogs.get(`${src.id}>${dst.id}`);
      if (clog !== undefined) {
        clog.held.push(ev);
        this.faults.clogHeld++;
        return true;
      }
    }
    this.queue.push(ev);
    return false;
  }

  /** Extra delay of a message to `to` while a slow-node fault holds it (0 without one). */
  private inboundLagMs(to: NodeId): number {
    if (this.inboundLags.size === 0) return 0;
    const lags = this.inboundLags.get(to);
    if (lags === undefined) return 0;
    this.faults.slowInbound++;
    return Math.max(...lags);
  }

  private latencyMs(): number {
    const plan = this.plan;
    const r = this.netRandom;
    let ms = plan.latencyMsMax > plan.latencyMsMin ? r.int(plan.latencyMsMin, plan.latencyMsMax + 1) : plan.latencyMsMin;
    if (!this.faultsActive) return ms;
    if (r.bernoulli(plan.latencyTailChance) && plan.latencyTailMsMax > 0) {
      ms += r.int(0, plan.latencyTailMsMax);
      this.faults.latencyTail++;
    }
    if (r.bernoulli(plan.reorderChance) && plan.reorderDelayMsMax > 0) {
      ms += r.int(1, plan.reorderDelayMsMax + 1);
      this.faults.reorder++;
    }
    return ms;
  }

  private partitioned(src: Endpoint, dst: Endpoint): boolean {
    if (this.partitions.length === 0 || src.isClient || dst.isClient) return false;
    for (const p of this.partitions) {
      const fromInside = p.side.has(src.id);
      const toInside = p.side.has(dst.id);
      if (p.fault.kind === 'two-way' ? fromInside !== toInside : fromInside && !toInside) return true;
    }
    return false;
  }

  private deliver(ev: SimEvent): void {
    const dst = ev.to as Endpoint;
    const src = ev.from as Endpoint;
    this.dispatched++;
    if (!dst.isClient && !(dst as SimNode).up) {
      this.tracer.raw(this.nowMs, dst.quoted, 'lost', `,"ch":${this.quoteChannel(ev.channel)},"from":${src.quoted},"h":${ev.hash},"reason":"down"`);
      return;
    }
    const handler = dst.handlers.get(ev.channel);
    const t = this.tracer;
    t.open(this.nowMs, dst.quoted, 'recv');
    t.s(',"ch":');
    t.s(this.quoteChannel(ev.channel));
    t.s(',"from":');
    t.s(src.quoted);
    t.s(',"h":');
    t.n(ev.hash);
    t.s(handler === undefined ? ',"heard":false' : ',"heard":true');
    t.close();
    if (handler === undefined) return;
    const payload = ev.payload as Uint8Array;
    if (dst.isClient) {
      handler(src.id, payload);
      return;
    }
    // Inlined runNodeCode: a closure per delivery showed up as GC pressure in profiles.
    const node = dst as SimNode;
    try {
      handler(src.id, payload);
    } catch (err) {
      this.nodeThrew(node, err);
      return;
    }
    if (this.onStep !== undefined && this.halted === undefined) this.onStep(node.id);
  }

  // ---------------------------------------------------------------- scheduled faults

  private schedulePlan(): void {
    for (const p of this.plan.partitions) this.at(p.atMs, () => this.startPartition(p));
    for (const c of this.plan.clogs) {
      this.at(c.atMs, () => this.startClog(c.from, c.to, c.durationMs));
    }
    for (const f of this.plan.slowNodes ?? []) this.at(f.atMs, () => this.startSlowNode(f));
    for (const f of this.plan.pauses ?? []) this.at(f.atMs, () => this.startPause(f));
    for (const c of this.plan.crashes) {
      this.at(c.atMs, () => {
        const node = this.nodes.get(c.node);
        if (!this.faultsActive || node === undefined || !node.up) return;
        this.crash(c.node);
        this.at(this.nowMs + c.downMs, () => this.restart(c.node));
      });
    }
  }

  /** An event for a paused node waits in its deferred list (messages, timers, disk completions alike). */
  private deferIfPaused(ev: SimEvent): boolean {
    const node = ev.kind === deliverKind ? (ev.to as Endpoint) : ev.node;
    if (node === undefined || node.isClient || (node as SimNode).pausedUntilMs === 0) return false;
    (node as SimNode).deferred.push(ev);
    this.faults.pauseDeferred++;
    return true;
  }

  private startPause(fault: PauseFault): void {
    const node = this.nodes.get(fault.node);
    if (!this.faultsActive || node === undefined || !node.up) return;
    const untilMs = this.nowMs + fault.durationMs;
    if (untilMs <= node.pausedUntilMs) return;
    if (node.pausedUntilMs === 0) this.pausesActive++;
    node.pausedUntilMs = untilMs;
    this.faults.pause++;
    this.tracer.event(this.nowMs, node.id, 'pause', { durationMs: fault.durationMs });
    this.at(untilMs, () => {
      if (node.pausedUntilMs === untilMs) this.endPause(node);
    });
  }

  /** Resumes a paused node now: what it deferred runs next, in the order it fell due. */
  private endPause(node: SimNode): void {
    if (node.pausedUntilMs === 0) return;
    node.pausedUntilMs = 0;
    this.pausesActive--;
    this.tracer.event(this.nowMs, node.id, 'resume', { deferred: node.deferred.length });
    for (const ev of node.deferred) {
      ev.time = this.nowMs;
      this.queue.push(ev);
    }
    node.deferred = [];
  }

  private startSlowNode(fault: SlowNodeFault): void {
    if (!this.faultsActive) return;
    const lags = this.inboundLags.get(fault.node) ?? [];
    lags.push(fault.lagMs);
    this.inboundLags.set(fault.node, lags);
    this.tracer.event(this.nowMs, 'sim', 'slow-node', { node: fault.node, lagMs: fault.lagMs, durationMs: fault.durationMs });
    this.at(this.nowMs + fault.durationMs, () => {
      if (this.inboundLags.get(fault.node) !== lags) return; // healed already
      lags.splice(lags.indexOf(fault.lagMs), 1);
      if (lags.length === 0) this.inboundLags.delete(fault.node);
    });
  }

  private startPartition(fault: PartitionFault): void {
    if (!this.faultsActive) return;
    const active: ActivePartition = { fault, side: new Set(fault.side) };
    this.partitions.push(active);
    if (fault.kind === 'one-way') this.faults.partitionOneWay++;
    else this.faults.partitionTwoWay++;
    this.tracer.event(this.nowMs, 'sim', 'partition', { kind: fault.kind, side: fault.side, durationMs: fault.durationMs });
    this.at(this.nowMs + fault.durationMs, () => {
      const before = this.partitions.length;
      this.partitions = this.partitions.filter((p) => p !== active);
      if (this.partitions.length !== before) this.tracer.event(this.nowMs, 'sim', 'partition-end', { kind: fault.kind, side: fault.side });
    });
  }

  private startClog(from: NodeId, to: NodeId, durationMs: number): void {
    if (!this.faultsActive) return;
    const key = `${from}>${to}`;
    const clog = this.clogs.get(key) ?? { depth: 0, held: [] };
    clog.depth++;
    this.clogs.set(key, clog);
    this.faults.clog++;
    this.tracer.event(this.nowMs, 'sim', 'clog', { from, to, durationMs });
    this.at(this.nowMs + durationMs, () => {
      const current = this.clogs.get(key);
      if (current !== clog) return; // healed already
      clog.depth--;
      if (clog.depth === 0) this.releaseClog(key);
    });
  }

  /** Releases a clogged link: held messages leave now, in the order they were sent. */
  private releaseClog(key: string): void {
    const clog = this.clogs.get(key);
    if (clog === undefined) return;
    this.clogs.delete(key);
    this.tracer.event(this.nowMs, 'sim', 'clog-end', { link: key, released: clog.held.length });
    for (const held of clog.held) {
      const ev = new SimEvent(deliverKind, undefined, 0, undefined, 0, held.from, held.to, held.channel, held.payload, held.hash);
      ev.time = this.nowMs + this.latencyMs();
      this.queue.push(ev);
    }
  }

  // ---------------------------------------------------------------- disk, hosts, web

  private diskWrite(node: SimNode, incarnation: number, batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void {
    assert(Array.isArray(batch), 'disk batch must be an array');
    assert(typeof onDurable === 'function', 'onDurable must be a function');
    if (!node.up || node.incarnation !== incarnation) return;
    const plan = this.plan;
    const r = this.diskRandom;
    let latencyMs = plan.diskWriteMsMax > plan.diskWriteMsMin ? r.int(plan.diskWriteMsMin, plan.diskWriteMsMax + 1) : plan.diskWriteMsMin;
    let slow = false;
    if (this.faultsActive && plan.diskSlowMsMax > 0 && r.bernoulli(plan.diskSlowChance)) {
      latencyMs += r.int(1, plan.diskSlowMsMax + 1);
      slow = true;
    }
    const fails = this.faultsActive && r.bernoulli(plan.diskFailChance);
    const landingMs = Math.max(this.nowMs + latencyMs, node.disk.lastLandingMs);
    node.disk.lastLandingMs = landingMs;
    const pending: PendingBatch = node.disk.begin(batch, fails);
    this.callNode(node, incarnation, landingMs, () => {
      node.disk.land(pending);
      if (slow) this.faults.diskSlow++;
      if (fails) this.faults.diskFail++;
      this.tracer.raw(this.nowMs, node.quoted, 'durable', `,"ok":${!fails},"ops":${pending.ops.length},"slow":${slow}`);
      const result: DiskWriteResult = fails
        ? { ok: false, error: new DistError('E_DISK_WRITE', 'simulated disk write failure', { node: node.id }) as Error & { code: string } }
        : { ok: true };
      onDurable(result);
    });
  }

  private spawn(parent: SimNode, incarnation: number, spec: NodeSpec, onUp: (result: SpawnResult) => void): void {
    assert(typeof onUp === 'function', 'onUp must be a function');
    this.at(this.nowMs + spawnDelayMs, () => {
      let result: SpawnResult;
      const existing = this.nodes.get(spec.id);
      if (getProgram(spec.program) === undefined) {
        result = { ok: false, error: new DistError('E_UNKNOWN_PROGRAM', `no program registered as ${spec.program}`, { program: spec.program }) as Error & { code: string } };
      } else if (this.endpoints.has(spec.id) && (existing === undefined || existing.up)) {
        result = { ok: false, error: new DistError('E_NODE_EXISTS', `node ${spec.id} is already running`, { id: spec.id }) as Error & { code: string } };
      } else {
        if (existing !== undefined) this.respawn(existing);
        else this.addNode(spec.id, spec.program, spec.args);
        result = { ok: true, id: spec.id };
      }
      this.callNode(parent, incarnation, this.nowMs, () => onUp(result));
    });
  }

  /** Spawning a stopped or crashed node id again boots it over its old disk. */
  private respawn(node: SimNode): void {
    node.stopped = false;
    this.boot(node);
  }

  private webGet(node: SimNode, incarnation: number, url: string, onResponse: (response: WebResponse) => void): void {
    assert(typeof url === 'string', 'url must be a string');
    const failed = this.faultsActive && this.netRandom.bernoulli(this.plan.lossChance);
    const atMs = this.nowMs + 2 * this.latencyMs();
    this.callNode(node, incarnation, atMs, () => {
      if (failed) this.faults.webFail++;
      const response = failed ? webUnavailable(url) : this.web.respond(url);
      this.tracer.event(this.nowMs, node.id, 'web', { url, status: response.ok ? response.status : response.error.code });
      onResponse(response);
    });
  }
}

/** Ids a plan mentions; used to validate a plan when the caller did not list the nodes. */
function planNodeIds(plan: FaultPlan): NodeId[] {
  const ids = new Set<NodeId>();
  for (const c of plan.clocks ?? []) ids.add(c.node);
  for (const p of plan.partitions ?? []) for (const id of p.side ?? []) ids.add(id);
  for (const c of plan.clogs ?? []) {
    ids.add(c.from);
    ids.add(c.to);
  }
  for (const c of plan.crashes ?? []) ids.add(c.node);
  for (const f of plan.slowNodes ?? []) ids.add(f.node);
  for (const f of plan.pauses ?? []) ids.add(f.node);
  return [...ids];
}
