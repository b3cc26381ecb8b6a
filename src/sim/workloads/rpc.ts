/**
 * The rpc workload and its checker: nodes running the `node` program call each other under faults.
 * Half of the calls read (`status.get('sid')`, idempotent, retried), half write (`ledger.add(key)`, not
 * idempotent, never retried; the network may still duplicate it).
 *
 * Safety, checked after every step:
 * - rpc.answered-once: no call's callback runs twice;
 * - rpc.correct: a read answers the callee's SID; a write answers its own key;
 * - rpc.coded-errors: a failed call fails with E_NODE_TIMEOUT, E_NODE_PEER_DOWN or E_NODE_STOPPED;
 * - rpc.at-most-once: a callee incarnation runs each write at most once.
 * Liveness, after healing: every call whose caller did not crash since has completed, and a fresh call
 * from every node to every other node answers with the right value.
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { createNodeProgram, type GroupsLayer } from '../../protocols/groups/index.js';
import { defineMethod, sidOf, type DistNode } from '../../protocols/node/index.js';
import { registerWorkload, scheduleOps, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

const allowedCodes: ReadonlySet<string> = new Set(['E_NODE_TIMEOUT', 'E_NODE_PEER_DOWN', 'E_NODE_STOPPED']);

/** The `ledger` service: counts how often this incarnation ran each key. */
export interface Ledger {
  readonly runs: Map<string, number>;
}

function createRpcNode(env: Env, args: unknown): NodeProgram {
  const program = createNodeProgram(env, args);
  const ledger = {
    runs: new Map<string, number>(),
    add: defineMethod(1, ([key], reply) => {
      ledger.runs.set(String(key), (ledger.runs.get(String(key)) ?? 0) + 1);
      reply(null, key);
    }),
  };
  (program.inspect?.() as GroupsLayer).node.services.set('ledger', ledger);
  return program;
}

interface IssuedCall {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly callerIncarnation: number;
  readonly expected: string;
  answers: number;
  ok: boolean;
}

class RpcRun implements WorkloadRun {
  private readonly calls: IssuedCall[] = [];
  private readonly probes: IssuedCall[] = [];
  private violation: Violation | undefined;
  private probing = false;
  private completed = 0;
  private failed = 0;

  constructor(private readonly ctx: WorkloadContext) {}

  private node(id: NodeId): DistNode | undefined {
    return (this.ctx.sim.inspect(id) as GroupsLayer | undefined)?.node;
  }

  start(): void {
    const { random, nodeIds } = this.ctx;
    scheduleOps(this.ctx, 0.8, (i) => {
      const from = random.pick(nodeIds);
      const to = random.pick(nodeIds);
      const write = random.int(0, 2) === 1;
      return () => this.issue(this.calls, from, to, write, `k${i}`);
    });
  }

  private issue(into: IssuedCall[], from: NodeId, to: NodeId, write: boolean, key: string): void {
    const caller = this.node(from);
    if (caller === undefined) return; // the caller is down: nothing issued
    const call: IssuedCall = { from, to, callerIncarnation: this.ctx.sim.incarnation(from), expected: write ? key : sidOf(to), answers: 0, ok: false };
    into.push(call);
    this.ctx.sim.traceEvent(from, 'client.rpc', { to, write, key });
    const [service, method, args] = write ? ['ledger', 'add', [key]] : ['status', 'get', ['sid']];
    caller.callRemote(to, service, method, args, (err, value) => this.onAnswer(call, err, value));
  }

  private onAnswer(call: IssuedCall, err: Error | null, value: unknown): void {
    call.answers++;
    if (call.answers > 1) {
      this.violation ??= { invariant: 'rpc.answered-once', message: `a call ${call.from} -> ${call.to} was answered ${call.answers} times` };
      return;
    }
    this.completed++;
    if (err !== null) {
      this.failed++;
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !allowedCodes.has(code)) {
        this.violation ??= { invariant: 'rpc.coded-errors', message: `call ${call.from} -> ${call.to} failed with ${String(code)}: ${err.message}` };
      }
    } else if (value === call.expected) {
      call.ok = true;
    } else {
      this.violation ??= { invariant: 'rpc.correct', message: `call ${call.from} -> ${call.to} answered ${String(value)}, expected ${call.expected}` };
    }
  }

  checkStep(node: NodeId): Violation | undefined {
    if (this.violation !== undefined) return this.violation;
    const ledger = this.node(node)?.services.get('ledger') as Ledger | undefined;
    for (const [key, runs] of ledger?.runs ?? []) {
      if (runs > 1) return { invariant: 'rpc.at-most-once', message: `${node} ran write ${key} ${runs} times` };
    }
    return undefined;
  }

  checkAll(): Violation | undefined {
    for (const id of this.ctx.nodeIds) {
      const violation = this.checkStep(id);
      if (violation !== undefined) return violation;
    }
    return this.violation;
  }

  /** Calls that must complete: their caller is still the incarnation that issued them. */
  private owed(calls: readonly IssuedCall[]): IssuedCall[] {
    return calls.filter((c) => c.answers === 0 && this.ctx.sim.isUp(c.from) && this.ctx.sim.incarnation(c.from) === c.callerIncarnation);
  }

  isLive(): boolean {
    if (!this.probing) {
      this.probing = true;
      for (const from of this.ctx.nodeIds) for (const to of this.ctx.nodeIds) if (from !== to) this.issue(this.probes, from, to, false, '');
    }
    return this.owed(this.calls).length === 0 && this.probes.every((p) => p.ok);
  }

  livenessReport(): string {
    const probesNotOk = this.probes.filter((p) => !p.ok).length;
    return `${this.owed(this.calls).length} calls unanswered, ${probesNotOk} of ${this.probes.length} probes not answered correctly`;
  }

  stats(): Record<string, number> {
    let retries = 0;
    let duplicates = 0;
    for (const id of this.ctx.nodeIds) {
      retries += this.node(id)?.stats.retries ?? 0;
      duplicates += this.node(id)?.stats.callsDuplicate ?? 0;
    }
    return { callsIssued: this.calls.length, callsCompleted: this.completed, callsFailed: this.failed, retries, duplicatesSuppressed: duplicates };
  }
}

export const rpc: Workload = {
  name: 'rpc',
  description: 'node-to-node calls under faults: each answered once, with a value or a coded error',
  program: createRpcNode,
  defaults: { nodes: 5, durationMs: 10_000, ops: 200, livenessMsMax: 10_000 },
  nodeArgs: () => ({ callTimeoutMs: 300, antiEntropyMs: 0 }),
  create: (ctx) => new RpcRun(ctx),
};
registerWorkload(rpc);
