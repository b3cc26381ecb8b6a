/** Membership, written once against Env, on the real runtime: four loopback nodes (real clock, timers,
 * ws transport, lmdb) form a group; one is killed (its runtime closed without a graceful leave) and
 * the others mark it dead within a bounded wait. */
import { expect } from 'chai';
import type { MemberState } from '../../../src/protocols/membership/index.js';
import { createMembershipNode, type Membership } from '../../../src/protocols/membership/index.js';
import { LocalCluster, until } from '../../runtime/helpers.js';

/** Fast timing so the test is short; the same code runs with the defaults in production. */
const args = { seeds: ['n1'], probeIntervalMs: 100, ackTimeoutMs: 50, suspicionTimeoutMs: 500, gossipIntervalMs: 50, syncIntervalMs: 500 };
/** Bounds on waiting (not performance thresholds): forming the group, then detecting the kill. */
const formMsMax = 15_000;
const detectMsMax = 15_000;

describe('membership on the real runtime (loopback)', function () {
  this.timeout(45_000);
  const ids = ['n1', 'n2', 'n3', 'n4'];
  let cluster: LocalCluster;
  const nodes = new Map<string, Membership>();
  const heard: Array<{ observer: string; id: string; state: MemberState }> = [];

  before(async () => {
    cluster = await LocalCluster.start(ids);
  });
  after(async () => {
    for (const node of nodes.values()) node.stop();
    await cluster.close();
  });

  it('forms the group, and the survivors declare a killed node dead', async () => {
    for (const id of ids) {
      // Built on the runtime's Env directly (not runtime.run), so closing the runtime is a crash: no leave.
      const node = createMembershipNode(cluster.get(id).env, args);
      node.onChange((member, state) => heard.push({ observer: id, id: member, state }));
      nodes.set(id, node);
    }
    await until(() => ids.every((id) => nodes.get(id)!.members().length === ids.length - 1), formMsMax, 'group formed');

    await cluster.get('n4').close();
    nodes.delete('n4');
    const survivors = ['n1', 'n2', 'n3'];
    await until(() => survivors.every((id) => nodes.get(id)!.stateOf('n4') === 'dead'), detectMsMax, 'n4 declared dead');
    for (const id of survivors) {
      expect(nodes.get(id)!.members()).to.deep.equal(survivors.filter((s) => s !== id));
      expect(heard.some((h) => h.observer === id && h.id === 'n4' && h.state === 'dead')).to.equal(true);
    }
  });
});
