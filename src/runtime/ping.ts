/**
 * `ping`: the runtime's own smoke-test program. Every `intervalMs` a node pings every peer named in its
 * args; peers answer with a pong carrying the same bytes; round trips are traced. Written against Env only.
 */
import type { Env, NodeFactory, NodeId, NodeProgram } from '../env/index.js';

export interface PingArgs {
  readonly peers: readonly NodeId[];
  readonly intervalMs?: number;
}

const intervalMsDefault = 1_000;

export const pingProgram: NodeFactory = (env: Env, args: unknown): NodeProgram => {
  const { peers, intervalMs } = parsePingArgs(args);
  const sentAtMs = new Map<number, number>();
  let seq = 0;
  let pongs = 0;
  let timer: number | undefined;

  env.net.listen('ping', (from, payload) => env.net.send(from, 'pong', payload));
  env.net.listen('pong', (from, payload) => {
    if (payload.length !== 4) return;
    const id = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
    const startMs = sentAtMs.get(id);
    if (startMs === undefined) return;
    pongs++;
    env.trace.event('pong', { from, rttMs: Math.round((env.clock.now() - startMs) * 1000) / 1000 });
  });

  const tick = (): void => {
    // Forget pings older than one round: pongs are datagrams and may never come.
    sentAtMs.clear();
    for (const peer of peers) {
      if (peer === env.nodeId) continue;
      const id = seq++ >>> 0;
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, id);
      sentAtMs.set(id, env.clock.now());
      env.net.send(peer, 'ping', payload);
    }
    timer = env.timers.set(intervalMs, tick);
  };
  timer = env.timers.set(0, tick);

  return {
    stop: () => {
      if (timer !== undefined) env.timers.cancel(timer);
    },
    inspect: () => ({ pongs }),
  };
};

function parsePingArgs(args: unknown): { peers: readonly NodeId[]; intervalMs: number } {
  const value = (args ?? {}) as Partial<PingArgs>;
  const peers = Array.isArray(value.peers) ? value.peers.filter((p): p is string => typeof p === 'string') : [];
  const intervalMs = typeof value.intervalMs === 'number' && value.intervalMs > 0 ? value.intervalMs : intervalMsDefault;
  return { peers, intervalMs };
}
