/**
 * pingpong: the plain synchronous workload behind the simulator benchmark. Each node starts `ops`
 * tokens; a node that receives a token forwards it at once to a random peer. No disk, no timers, no
 * serializer: it measures the simulator's own cost per event. Written against Env only, like any program.
 * Liveness: tokens are still moving after healing (hops grow).
 */
import type { Env, NodeId, NodeProgram } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { registerWorkload, type Workload, type WorkloadContext, type WorkloadRun } from '../workload.js';

const channel = 'token';

interface PingpongArgs {
  readonly peers: readonly NodeId[];
  readonly tokens: number;
}

interface PingpongView {
  readonly hops: number;
}

function createPingpongNode(env: Env, args: unknown): NodeProgram {
  const { peers, tokens } = args as PingpongArgs;
  assert(Array.isArray(peers) && peers.length > 0, 'pingpong needs peers');
  assert(Number.isInteger(tokens) && tokens >= 0, 'pingpong tokens must be an integer >= 0');
  const others = peers.filter((p) => p !== env.nodeId);
  const targets = others.length > 0 ? others : peers;
  let hops = 0;
  const forward = (payload: Uint8Array): void => {
    env.net.send(targets[env.random.int(0, targets.length)] as NodeId, channel, payload);
  };
  env.net.listen(channel, (_from, payload) => {
    hops++;
    forward(payload);
  });
  for (let i = 0; i < tokens; i++) forward(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, 0, 0, 0, 0, 0, 0));
  return { inspect: (): PingpongView => ({ hops }) };
}

class PingpongRun implements WorkloadRun {
  private hopsAtHeal = -1;
  constructor(private readonly ctx: WorkloadContext) {}
  start(): void {}
  checkStep(): undefined {
    return undefined;
  }
  checkAll(): undefined {
    return undefined;
  }
  private hops(): number {
    let total = 0;
    for (const id of this.ctx.nodeIds) total += (this.ctx.sim.inspect(id) as PingpongView | undefined)?.hops ?? 0;
    return total;
  }
  isLive(): boolean {
    const hops = this.hops();
    if (this.hopsAtHeal < 0) this.hopsAtHeal = hops;
    return hops > this.hopsAtHeal;
  }
  livenessReport(): string {
    return `no token moved after healing (hops stuck at ${this.hops()})`;
  }
  stats(): Record<string, number> {
    return { hops: this.hops() };
  }
}

export const pingpong: Workload = {
  name: 'pingpong',
  description: 'tokens bounced between random nodes; the simulator benchmark',
  program: createPingpongNode,
  defaults: { nodes: 5, durationMs: 10_000, ops: 10, livenessMsMax: 1_000 },
  nodeArgs: (nodeIds, _id, ops) => ({ peers: nodeIds, tokens: ops }),
  create: (ctx) => new PingpongRun(ctx),
};
registerWorkload(pingpong);
