/**
 * The gossip workload and its checker: every node runs the `node` program with one group `g` of all
 * nodes; during the safety phase random nodes gossip distinct values to `sink.take` on every member.
 *
 * Safety, checked after every step:
 * - gossip.integrity: a node holds only values some node gossiped;
 * - gossip.no-duplicates: a node incarnation takes each value once.
 * Liveness, after healing: a value gossiped after healing, and every value any live node holds, reach
 * every live node (rumour spreading plus anti-entropy).
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { createNodeProgram, type GroupsLayer } from '../../protocols/groups/index.js';
import { defineMethod, getSID, addressOf } from '../../protocols/node/index.js';
import { registerWorkload, scheduleOps, type Violation, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

export const gossipGid = 'g';

/** The `sink` service: values this incarnation took, in order. */
interface Sink {
  readonly order: number[];
  readonly held: Set<number>;
}

function createGossipNode(env: Env, args: unknown): NodeProgram {
  const program = createNodeProgram(env, args);
  const sink = {
    order: [] as number[],
    held: new Set<number>(),
    take: defineMethod(1, ([value], reply) => {
      sink.order.push(value as number);
      sink.held.add(value as number);
      reply(null, value);
    }),
  };
  (program.inspect?.() as GroupsLayer).node.services.set('sink', sink);
  return program;
}

class GossipRun implements WorkloadRun {
  private readonly sent = new Set<number>();
  private probeValue: number | undefined;

  constructor(private readonly ctx: WorkloadContext) {}

  private sink(id: NodeId): Sink | undefined {
    return (this.ctx.sim.inspect(id) as GroupsLayer | undefined)?.node.services.get('sink') as Sink | undefined;
  }

  start(): void {
    const { random, nodeIds } = this.ctx;
    scheduleOps(this.ctx, 0.8, (i) => {
      const from = random.pick(nodeIds);
      return () => this.gossip(from, i + 1);
    });
  }

  private gossip(from: NodeId, value: number): void {
    const layer = this.ctx.sim.inspect(from) as GroupsLayer | undefined;
    if (layer === undefined) return;
    this.sent.add(value);
    this.ctx.sim.traceEvent(from, 'client.gossip', { value });
    const gossip = layer.servicesFor(gossipGid)?.gossip as { send: Function };
    gossip.send([value], { service: 'sink', method: 'take' }, () => undefined);
  }

  checkStep(node: NodeId): Violation | undefined {
    const sink = this.sink(node);
    if (sink === undefined) return undefined;
    if (sink.order.length !== sink.held.size) return { invariant: 'gossip.no-duplicates', message: `${node} took a value twice` };
    for (const value of sink.held) {
      if (!this.sent.has(value)) return { invariant: 'gossip.integrity', message: `${node} holds ${value}, which nobody gossiped` };
    }
    return undefined;
  }

  checkAll(): Violation | undefined {
    for (const id of this.ctx.nodeIds) {
      const violation = this.checkStep(id);
      if (violation !== undefined) return violation;
    }
    return undefined;
  }

  private required(): Set<number> {
    const required = new Set<number>(this.probeValue === undefined ? [] : [this.probeValue]);
    for (const id of this.ctx.nodeIds) for (const v of this.sink(id)?.held ?? []) required.add(v);
    return required;
  }

  isLive(): boolean {
    if (this.probeValue === undefined) {
      this.probeValue = this.ctx.ops + 1;
      this.gossip(this.ctx.random.pick(this.ctx.nodeIds), this.probeValue);
    }
    const required = this.required();
    // Every held value is required, so equal sizes mean equal sets.
    return this.ctx.nodeIds.every((id) => this.sink(id)?.held.size === required.size);
  }

  livenessReport(): string {
    const required = this.required();
    const parts = this.ctx.nodeIds.map((id) => `${id}: missing ${required.size - (this.sink(id)?.held.size ?? 0)}`);
    return `not converged on ${required.size} values (${parts.join(', ')})`;
  }

  stats(): Record<string, number> {
    const sizes = this.ctx.nodeIds.map((id) => this.sink(id)?.held.size ?? 0);
    let duplicates = 0;
    let repaired = 0;
    for (const id of this.ctx.nodeIds) {
      const layer = this.ctx.sim.inspect(id) as GroupsLayer | undefined;
      duplicates += layer?.stats.gossipDuplicates ?? 0;
      repaired += layer?.stats.antiEntropyRepaired ?? 0;
    }
    return { valuesGossiped: this.sent.size, valuesHeldMin: Math.min(...sizes), valuesHeldMax: Math.max(...sizes), duplicatesSuppressed: duplicates, antiEntropyRepaired: repaired };
  }
}

export const gossip: Workload = {
  name: 'gossip',
  description: 'gossip in one group under faults: after healing every live node has every message',
  program: createGossipNode,
  defaults: { nodes: 8, durationMs: 10_000, ops: 50, livenessMsMax: 20_000 },
  nodeArgs: (nodeIds) => ({
    antiEntropyMs: 200,
    callTimeoutMs: 300,
    groups: [{ config: gossipGid, group: Object.fromEntries(nodeIds.map((id) => [getSID(addressOf(id)), addressOf(id)])) }],
  }),
  create: (ctx) => new GossipRun(ctx),
};
registerWorkload(gossip);
