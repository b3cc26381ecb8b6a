/**
 * Deliberately broken broadcast variants, to prove the checker can fail. Each wraps the real program
 * with a mutated Env rather than forking its code, so the mutant differs from the real protocol in
 * exactly one way.
 *
 * - broadcast-no-retry: timers never fire, so lost gossip is never re-sent -> liveness failure under loss.
 * - broadcast-invent: every gossip carries one extra value nobody broadcast -> integrity violation.
 * - broadcast-ack-early: disk writes report durable at once, before they are -> a crash loses an
 *   acknowledged value (acked-durable violation).
 */
import type { Env, NodeFactory } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { createBroadcastNode, decodeMessage, encodeMessage } from '../../protocols/broadcast/index.js';
import { registerWorkload } from '../workload.js';
import { broadcastWorkload } from './broadcast.js';

/** A factory that runs `factory` over a mutated view of its Env. */
function withEnv(factory: NodeFactory, mutate: (env: Env) => Env): NodeFactory {
  return (env, args) => factory(mutate(env), args);
}

const noTimers = (env: Env): Env => ({ ...env, timers: { set: () => -1, cancel: () => {} } });

/** Far outside the client's value range (1..ops), so the checker cannot mistake it for a real value. */
const inventedValue = -424242;

const inventValues = (env: Env): Env => ({
  ...env,
  net: {
    ...env.net,
    listen: env.net.listen.bind(env.net),
    payloadBytesMax: env.net.payloadBytesMax,
    send: (to, channel, payload) => {
      const message = decodeMessage(payload);
      if (!(message instanceof DistError) && message.type === 'gossip') {
        payload = encodeMessage({ type: 'gossip', values: [...message.values, inventedValue] });
      }
      env.net.send(to, channel, payload);
    },
  },
});

/** Reports every write durable the moment it is issued; the real write still happens, later. Shared by
 * every mutant that acknowledges before its data is durable. */
export const lyingDisk = (env: Env): Env => ({
  ...env,
  disk: {
    get: env.disk.get.bind(env.disk),
    scan: env.disk.scan.bind(env.disk),
    write: (batch, onDurable) => {
      env.disk.write(batch, () => {});
      onDurable({ ok: true });
    },
  },
});

export const broadcastNoRetry = broadcastWorkload(
  'broadcast-no-retry',
  withEnv(createBroadcastNode, noTimers),
  'MUTANT: broadcast without retransmission (must fail liveness under loss)',
  true,
);
export const broadcastInvent = broadcastWorkload(
  'broadcast-invent',
  withEnv(createBroadcastNode, inventValues),
  'MUTANT: broadcast that invents a value (must fail safety)',
  true,
);
export const broadcastAckEarly = broadcastWorkload(
  'broadcast-ack-early',
  withEnv(createBroadcastNode, lyingDisk),
  'MUTANT: broadcast that acknowledges before the value is durable (must fail safety under crashes)',
  true,
);
registerWorkload(broadcastNoRetry);
registerWorkload(broadcastAckEarly);
registerWorkload(broadcastInvent);
