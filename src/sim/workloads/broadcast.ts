/**
 * The broadcast workload and its checker. A client (`c1`) sends `ops` broadcasts of distinct values to
 * random nodes during the safety phase, through the same faulty network.
 *
 * Safety, checked after every step of a node:
 * - broadcast.integrity: a node holds only values the client broadcast;
 * - broadcast.no-duplicates: a node lists each value once;
 * - broadcast.acked-durable: a node that acknowledged a value still holds it (also after restarts).
 * Liveness, after healing: every live node holds every value that any node holds or that was acked.
 */
import type { NodeId } from '../../env/index.js';
import { broadcastChannel, broadcastProgramName, decodeMessage, encodeMessage, type BroadcastView } from '../../protocols/broadcast/index.js';
import { DistError } from '../../lib/errors.js';
import type { NodeFactory } from '../../env/index.js';
import { registerWorkload, scheduleOps, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

interface NodeCheckState {
  incarnation: number;
  /** How much of the node's append-only `order` has been checked. */
  checked: number;
  seen: Set<number>;
}

/** The broadcast workload over any program that speaks the broadcast protocol (mutants reuse it). */
export function broadcastWorkload(name: string, program: string | NodeFactory, description: string, mutant = false): Workload {
  return {
    name,
    description,
    mutant,
    program,
    defaults: { nodes: 5, durationMs: 10_000, ops: 100, livenessMsMax: 10_000 },
    nodeArgs: (nodeIds) => ({ peers: nodeIds }),
    create: (ctx) => new BroadcastRun(ctx),
  };
}

class BroadcastRun implements WorkloadRun {
  private readonly issued = new Set<number>();
  /** Value -> the node that acknowledged it first. */
  private readonly acked = new Map<number, NodeId>();
  private readonly checks = new Map<NodeId, NodeCheckState>();
  private pendingViolation: Violation | undefined;

  constructor(private readonly ctx: WorkloadContext) {}

  start(): void {
    const { sim, random, nodeIds } = this.ctx;
    const client = sim.client('c1');
    client.listen(broadcastChannel, (from, payload) => this.onReply(from, payload));
    scheduleOps(this.ctx, 0.8, (i) => {
      const to = random.pick(nodeIds);
      const value = i + 1;
      return () => {
        this.issued.add(value);
        sim.traceEvent('c1', 'client.broadcast', { to, value });
        client.send(to, broadcastChannel, encodeMessage({ type: 'broadcast', id: value, value }));
      };
    });
  }

  private onReply(from: NodeId, payload: Uint8Array): void {
    const message = decodeMessage(payload);
    if (message instanceof DistError || message.type !== 'broadcast_ok') return;
    if (!this.acked.has(message.value)) this.acked.set(message.value, from);
    const view = this.view(from);
    if (view !== undefined && !view.has(message.value)) {
      this.pendingViolation = { invariant: 'broadcast.acked-durable', message: `${from} acknowledged ${message.value} but does not hold it` };
    }
  }

  private view(id: NodeId): BroadcastView | undefined {
    return this.ctx.sim.inspect(id) as BroadcastView | undefined;
  }

  checkStep(node: NodeId): Violation | undefined {
    if (this.pendingViolation !== undefined) return this.pendingViolation;
    const view = this.view(node);
    if (view === undefined) return undefined;
    const incarnation = this.ctx.sim.incarnation(node);
    let state = this.checks.get(node);
    if (state === undefined || state.incarnation !== incarnation) {
      state = { incarnation, checked: 0, seen: new Set() };
      this.checks.set(node, state);
      const lost = this.ackedBy(node).find((v) => !view.has(v));
      if (lost !== undefined) return { invariant: 'broadcast.acked-durable', message: `${node} restarted without acknowledged value ${lost}` };
    }
    const order = view.order;
    for (let i = state.checked; i < order.length; i++) {
      const value = order[i] as number;
      if (!this.issued.has(value)) return { invariant: 'broadcast.integrity', message: `${node} holds ${value}, which no client broadcast` };
      if (state.seen.has(value)) return { invariant: 'broadcast.no-duplicates', message: `${node} lists ${value} twice` };
      state.seen.add(value);
    }
    state.checked = order.length;
    return undefined;
  }

  private ackedBy(node: NodeId): number[] {
    const values: number[] = [];
    for (const [value, by] of this.acked) if (by === node) values.push(value);
    return values;
  }

  checkAll(): Violation | undefined {
    if (this.pendingViolation !== undefined) return this.pendingViolation;
    for (const id of this.ctx.nodeIds) {
      const violation = this.checkStep(id);
      if (violation !== undefined) return violation;
    }
    return undefined;
  }

  /** Values that must be everywhere: held by any live node, or acknowledged to the client. */
  private required(): Set<number> {
    const required = new Set<number>(this.acked.keys());
    for (const id of this.ctx.nodeIds) {
      const view = this.view(id);
      if (view !== undefined) for (const v of view.order) required.add(v);
    }
    return required;
  }

  isLive(): boolean {
    const required = this.required();
    for (const id of this.ctx.nodeIds) {
      const view = this.view(id);
      // Every held value is in `required`, so equal sizes mean equal sets.
      if (view === undefined || view.size !== required.size) return false;
    }
    return true;
  }

  livenessReport(): string {
    const required = this.required();
    const parts = this.ctx.nodeIds.map((id) => {
      const view = this.view(id);
      return view === undefined ? `${id}: down` : `${id}: missing ${required.size - view.size}`;
    });
    return `not converged on ${required.size} values (${parts.join(', ')})`;
  }

  stats(): Record<string, number> {
    const sizes = this.ctx.nodeIds.map((id) => this.view(id)?.size ?? 0);
    return {
      valuesBroadcast: this.issued.size,
      valuesAcked: this.acked.size,
      valuesHeldMin: Math.min(...sizes),
      valuesHeldMax: Math.max(...sizes),
    };
  }
}

export const broadcast = broadcastWorkload(
  'broadcast',
  broadcastProgramName,
  'Maelstrom-style broadcast: every value any node holds reaches every node',
);
registerWorkload(broadcast);
