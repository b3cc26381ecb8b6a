/** The broadcast protocol, written once against Env, converging on a real cluster: three node processes
 * spawned through `hosts`, driven by a client node in this process over the real transport. */
import { expect } from 'chai';
import { broadcastChannel, decodeMessage, encodeMessage, type BroadcastMessage } from '../../src/protocols/broadcast/index.js';
import type { SpawnResult } from '../../src/env/index.js';
import { LocalCluster, until } from './helpers.js';

describe('broadcast on a real cluster (child processes)', function () {
  this.timeout(30_000);
  let cluster: LocalCluster;
  const nodes = ['n1', 'n2', 'n3'];

  before(async () => {
    cluster = await LocalCluster.start(['client']);
  });
  after(async () => cluster.close());

  it('every value sent to any node reaches every node', async () => {
    const env = cluster.get('client').env;
    const reads = new Map<string, number[]>();
    const acks = new Set<number>();
    env.net.listen(broadcastChannel, (from, payload) => {
      const message = decodeMessage(payload) as BroadcastMessage;
      if (message.type === 'broadcast_ok') acks.add(message.value);
      if (message.type === 'read_ok') reads.set(from, [...message.values]);
    });
    const results: SpawnResult[] = [];
    for (const id of nodes) env.hosts.spawn({ id, program: 'broadcast', args: { peers: nodes, gossipIntervalMs: 20 } }, (r) => results.push(r));
    await until(() => results.length === nodes.length, 20_000, 'nodes up');
    expect(results.every((r) => r.ok)).to.equal(true);

    const values = [11, 22, 33, 44, 55, 66];
    values.forEach((value, i) => env.net.send(nodes[i % nodes.length]!, broadcastChannel, encodeMessage({ type: 'broadcast', id: i, value })));
    await until(() => acks.size === values.length, 10_000, 'acknowledgements');

    let readId = 100;
    let readAtMs = -Infinity;
    const converged = (): boolean => nodes.every((id) => JSON.stringify(reads.get(id)) === JSON.stringify(values));
    await until(() => {
      if (converged()) return true;
      if (env.clock.now() - readAtMs >= 25) {
        readAtMs = env.clock.now();
        for (const id of nodes) env.net.send(id, broadcastChannel, encodeMessage({ type: 'read', id: readId++ }));
      }
      return false;
    }, 10_000, 'convergence');
  });
});
