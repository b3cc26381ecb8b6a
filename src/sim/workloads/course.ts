/**
 * The course workload: code written for the course's `distribution` API, run unchanged in the simulator.
 * Every node is a `node` program dressed by the facade (`dressNode`), so many course nodes share one
 * process and one `globalThis.distribution`, which must be the right node's inside each node's events
 * (src/facade/global.ts). Each node installs, through its own facade, a course-style service that reaches
 * its node only through the global, as course code does:
 *
 *   whoami(cb)        global.distribution.local.status.get('sid', cb)
 *   relay(to, cb)     global.distribution.local.comm.send(['sid'], {node: to, service: 'status', method: 'get'}, cb)
 *
 * Client operations, from a random node's facade: `distribution.cluster.comm.send([], {service: 'course',
 * method: 'whoami'})` (a group call: `(errors, values)` by SID) or `distribution.local.comm.send([to],
 * {node: via, service: 'course', method: 'relay'})`.
 *
 * Safety, checked after every step:
 * - course.global-bound: every value a node answers is its own SID (a group answer under key s is s; a
 *   relay answers the SID of `to`): a global bound to the wrong node answers another node's SID;
 * - course.answered-once: no callback runs twice;
 * - course.errors: a failure is an Error (the facade's plain Errors for unreached peers, coded ones otherwise).
 * Liveness, after healing: a group whoami from every node answers every member, without errors.
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { bindGlobal } from '../../facade/global.js';
import { dressNode, type Distribution } from '../../facade/index.js';
import { createNodeProgram, type GroupsLayer } from '../../protocols/groups/index.js';
import { addressOf, sidOf, type Callback } from '../../protocols/node/index.js';
import { registerWorkload, scheduleOps, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

const clusterGid = 'cluster';

type CourseService = Record<string, (...args: unknown[]) => void>;

/** The course-style service every node installs; it reaches its node only through the global. */
function courseService(): Record<string, Function> {
  const global = globalThis as unknown as { distribution: { local: Record<string, CourseService> } };
  return {
    whoami: (cb: Callback) => global.distribution.local.status!['get']!('sid', cb),
    relay: (to: unknown, cb: Callback) => global.distribution.local.comm!['send']!(['sid'], { node: to, service: 'status', method: 'get' }, cb),
  };
}

/** Each node's own course object, by node (what the client drives; the global may be bound elsewhere). */
const ownFacades = new WeakMap<object, Distribution>();

/** A node program dressed as a course node; `bind` decides which object its global is (the mutant's hook). */
function courseNodeFactory(bind: (node: object, own: Distribution) => void) {
  return (env: Env, args: unknown): NodeProgram => {
    const program = createNodeProgram(env, args);
    const layer = program.inspect?.() as GroupsLayer;
    const distribution = dressNode(layer.node, layer, {
      config: layer.node.config, start: (cb) => cb?.(null), server: undefined,
      netStats: () => ({ callsWs: 0, callsPut: 0, probes: 0, probesToPut: 0 }),
    });
    ownFacades.set(layer.node, distribution);
    bind(layer.node, distribution);
    (distribution.local['routes'] as CourseService)['put']!(courseService(), 'course', () => undefined);
    return program;
  };
}

interface IssuedOp {
  readonly from: NodeId;
  /** SIDs a successful answer may carry, by answer key ('' for a single-value answer). */
  readonly expected: ReadonlyMap<string, string> | string;
  answers: number;
  complete: boolean;
}

class CourseRun implements WorkloadRun {
  private readonly ops: IssuedOp[] = [];
  private readonly probes: IssuedOp[] = [];
  private violation: Violation | undefined;
  private probing = false;
  private failures = 0;

  constructor(private readonly ctx: WorkloadContext) {}

  private facade(id: NodeId): Distribution | undefined {
    const layer = this.ctx.sim.inspect(id) as GroupsLayer | undefined;
    return layer === undefined ? undefined : ownFacades.get(layer.node);
  }

  start(): void {
    const { random, nodeIds } = this.ctx;
    scheduleOps(this.ctx, 0.8, () => {
      const from = random.pick(nodeIds);
      const relay = random.int(0, 2) === 1;
      const via = random.pick(nodeIds);
      const to = random.pick(nodeIds);
      return () => (relay ? this.relay(from, via, to) : this.whoami(this.ops, from));
    });
  }

  private whoami(into: IssuedOp[], from: NodeId): void {
    const d = this.facade(from);
    if (d === undefined) return;
    const op: IssuedOp = { from, expected: new Map(this.ctx.nodeIds.map((id) => [sidOf(id), sidOf(id)])), answers: 0, complete: false };
    into.push(op);
    this.ctx.sim.traceEvent(from, 'client.course.whoami', {});
    const group = d[clusterGid] as Record<string, CourseService>;
    group['comm']!['send']!([], { service: 'course', method: 'whoami' }, (errors: unknown, values: unknown) => this.onGroupAnswer(op, errors, values));
  }

  private relay(from: NodeId, via: NodeId, to: NodeId): void {
    const d = this.facade(from);
    if (d === undefined) return;
    const op: IssuedOp = { from, expected: sidOf(to), answers: 0, complete: false };
    this.ops.push(op);
    this.ctx.sim.traceEvent(from, 'client.course.relay', { via, to });
    (d.local['comm'] as CourseService)['send']!([addressOf(to)], { node: addressOf(via), service: 'course', method: 'relay' }, (err: unknown, value: unknown) => {
      if (!this.answered(op)) return;
      if (err !== null && err !== undefined) return this.onFailure(op, err);
      if (value !== op.expected) this.fail('course.global-bound', `relay to ${to} answered ${String(value)}, expected ${String(op.expected)}`);
      op.complete = true;
    });
  }

  private answered(op: IssuedOp): boolean {
    op.answers++;
    if (op.answers === 1) return true;
    this.fail('course.answered-once', `an operation from ${op.from} was answered ${op.answers} times`);
    return false;
  }

  private onGroupAnswer(op: IssuedOp, errors: unknown, values: unknown): void {
    if (!this.answered(op)) return;
    const errorMap = (errors ?? {}) as Record<string, unknown>;
    if (errors instanceof Error) return this.onFailure(op, errors);
    for (const [sid, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
      const expected = (op.expected as ReadonlyMap<string, string>).get(sid);
      if (value !== expected) this.fail('course.global-bound', `member ${sid} answered whoami with ${String(value)}`);
    }
    for (const err of Object.values(errorMap)) if (!(err instanceof Error)) this.fail('course.errors', `a member failed with a non-Error: ${String(err)}`);
    op.complete = Object.keys(errorMap).length === 0 && Object.keys((values ?? {}) as object).length === this.ctx.nodeIds.length;
    if (!op.complete) this.failures++;
  }

  private onFailure(op: IssuedOp, err: unknown): void {
    this.failures++;
    if (!(err instanceof Error)) this.fail('course.errors', `an operation from ${op.from} failed with a non-Error: ${String(err)}`);
  }

  private fail(invariant: string, message: string): void {
    this.violation ??= { invariant, message };
  }

  checkStep(): Violation | undefined {
    return this.violation;
  }

  checkAll(): Violation | undefined {
    return this.violation;
  }

  isLive(): boolean {
    if (!this.probing) {
      this.probing = true;
      for (const from of this.ctx.nodeIds) this.whoami(this.probes, from);
    }
    return this.probes.every((p) => p.complete);
  }

  livenessReport(): string {
    return `${this.probes.filter((p) => !p.complete).length} of ${this.probes.length} group whoami probes not answered by every member`;
  }

  stats(): Record<string, number> {
    return { opsIssued: this.ops.length, opsAnswered: this.ops.filter((o) => o.answers > 0).length, failures: this.failures };
  }
}

function courseArgs(nodeIds: readonly NodeId[]): unknown {
  const group = Object.fromEntries(nodeIds.map((id) => [sidOf(id), addressOf(id)]));
  return { callTimeoutMs: 300, antiEntropyMs: 0, groups: [{ config: { gid: clusterGid }, group }] };
}

export const courseWorkload: Workload = {
  name: 'course',
  description: 'course-API code in the simulator: every node answers through its own globalThis.distribution',
  program: courseNodeFactory(bindGlobal),
  defaults: { nodes: 5, durationMs: 10_000, ops: 200, livenessMsMax: 10_000 },
  nodeArgs: (nodeIds) => courseArgs(nodeIds),
  create: (ctx) => new CourseRun(ctx),
};
registerWorkload(courseWorkload);

/** Mutant: one global for the whole process (the last node dressed), as a naive facade would have. */
let sharedDistribution: Distribution | undefined;
export const courseSharedGlobalMutant: Workload = {
  ...courseWorkload,
  name: 'course-shared-global',
  description: 'mutant: every node\'s global is the last node dressed, so answers carry the wrong SID',
  mutant: true,
  program: courseNodeFactory((node, own) => {
    sharedDistribution = own;
    bindGlobal(node, { get local() { return sharedDistribution?.local; } });
  }),
};
registerWorkload(courseSharedGlobalMutant);
