import { expect } from 'chai';
import fc from 'fast-check';
import type { NodeId } from '../../../src/env/index.js';
import { createMembershipNode, type Membership, type MemberState } from '../../../src/protocols/membership/index.js';
import { getWorkload, quietPlan, registerWorkload, resolveConfig, runScenario, Simulation, type FaultPlan } from '../../../src/sim/index.js';
import { membershipSimArgs, membershipWorkload } from '../../../src/sim/workloads/membership.js';

const heavy = (seed: number, workload = 'membership') => runScenario(resolveConfig({ seed, workload, faults: 'heavy' }));
/** Connected links, 10% loss, 1-50 ms latency: SWIM's accuracy regime. */
const lossyPlan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 50, lossChance: 0.1 };
const lossy = (seed: number, workload = 'membership') => runScenario(resolveConfig({ seed, workload, plan: lossyPlan, durationMs: 60_000 }));

interface Seen {
  readonly observer: NodeId;
  readonly id: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
}

/** A small cluster driven directly, with every node's onChange events recorded. */
function cluster(count: number): { sim: Simulation; ids: NodeId[]; seen: Seen[] } {
  const sim = new Simulation({ seed: 3 });
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const seen: Seen[] = [];
  const factory = (env: Parameters<typeof createMembershipNode>[0], args: unknown): Membership => {
    const node = createMembershipNode(env, args);
    node.onChange((id, state, incarnation) => seen.push({ observer: env.nodeId, id, state, incarnation }));
    return node;
  };
  for (const id of ids) sim.addNode(id, factory, { seeds: ['n1'], ...membershipSimArgs });
  return { sim, ids, seen };
}

const members = (sim: Simulation, id: NodeId): NodeId[] => (sim.inspect(id) as { liveMembers(): NodeId[] }).liveMembers();

describe('membership in the simulator', () => {
  it('same seed, same trace hash; another seed, another hash', () => {
    const a = heavy(21);
    expect(heavy(21).traceHash).to.equal(a.traceHash);
    expect(heavy(22).traceHash).to.not.equal(a.traceHash);
  });

  it('same seed, same hash, for any seed (property, light faults)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
        const run = () => runScenario(resolveConfig({ seed, workload: 'membership', faults: 'light', durationMs: 10_000 }));
        expect(run().traceHash).to.equal(run().traceHash);
      }),
      { numRuns: 5 },
    );
  });

  it('holds every invariant and converges after healing under heavy faults, seeds 1-12', () => {
    const failures: string[] = [];
    const fired = { crash: 0, partitionDrop: 0, loss: 0 };
    let falseDeaths = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = heavy(seed);
      if (r.result !== 'ok') failures.push(`seed ${seed}: ${r.result} ${r.reason}`);
      fired.crash += r.faultsInjected.crash;
      fired.partitionDrop += r.faultsInjected.partitionDrop;
      fired.loss += r.faultsInjected.loss;
      falseDeaths += r.stats.falseDeaths ?? 0;
    }
    expect(failures).to.deep.equal([]);
    expect(fired.crash).to.be.greaterThan(0);
    expect(fired.partitionDrop).to.be.greaterThan(0);
    expect(fired.loss).to.be.greaterThan(0);
    // Partitions outlasting detection make deaths the checker counts (and the nodes refute on healing).
    expect(falseDeaths).to.be.greaterThan(0);
  });

  it('declares no live node dead at 10% loss (accuracy enforced), seeds 1-4', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = lossy(seed);
      expect(r.result, r.reason).to.equal('ok');
      expect(r.stats.accuracyEnforced).to.equal(1);
      expect(r.stats.falseDeaths).to.equal(0);
      expect(r.stats.suspicions).to.be.greaterThan(0); // the loss was felt: suspicions, then refutations
      expect(r.faultsInjected.loss).to.be.greaterThan(0);
    }
  });

  it('local health: a node that reads its input late stops accusing healthy members (Lifeguard §IV-A)', () => {
    // n3 gets every message 1.5 s late (three probe periods) for two minutes; its timers keep time.
    const plan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 20, slowNodes: [{ atMs: 5_000, durationMs: 120_000, node: 'n3', lagMs: 1_500 }] };
    if (getWorkload('membership-no-health') === undefined) {
      registerWorkload(membershipWorkload({ name: 'membership-no-health', description: 'membership without local health (test)', args: { ...membershipSimArgs, localHealthMax: 0 } }));
    }
    const run = (workload: string) => runScenario(resolveConfig({ seed: 1, workload, nodes: 12, plan, durationMs: 125_000 }));
    const without = run('membership-no-health');
    const withHealth = run('membership');
    for (const r of [without, withHealth]) {
      expect(r.result, r.reason).to.equal('ok');
      expect(r.stats.falseDeaths).to.equal(0);
      expect(r.stats.suspicionsRaised - r.stats.suspicionsRaisedBySlow - r.stats.suspicionsRaisedOfSlow).to.equal(0); // healthy never accuse healthy
    }
    expect(without.stats.suspicionsRaisedBySlow).to.be.greaterThan(50);
    expect(withHealth.stats.suspicionsRaisedBySlow).to.be.lessThan(without.stats.suspicionsRaisedBySlow / 10);
    expect(withHealth.stats.suspicions).to.be.lessThan(without.stats.suspicions);
  });

  it('the checker fails a variant that cannot refute (membership.accuracy at 10% loss)', () => {
    for (const seed of [1, 2, 3]) {
      const r = lossy(seed, 'membership-no-refute');
      expect(r.result).to.equal('safety');
      expect(r.invariant).to.equal('membership.accuracy');
    }
  });

  it('the checker fails a variant without full-state sync (liveness: lost joins, long partitions)', () => {
    expect([1, 4, 6].map((seed) => heavy(seed, 'membership-no-sync').result)).to.deep.equal(['liveness', 'liveness', 'liveness']);
  });

  it('a crashed node is declared dead by every live node, and listeners hear it', () => {
    const { sim, ids, seen } = cluster(5);
    sim.runUntil(5_000);
    for (const id of ids) expect(members(sim, id)).to.have.length(4);
    sim.crash('n5');
    sim.runUntil(15_000);
    const deadBy = new Set(seen.filter((s) => s.id === 'n5' && s.state === 'dead').map((s) => s.observer));
    expect([...deadBy].sort()).to.deep.equal(['n1', 'n2', 'n3', 'n4']);
    for (const id of ids.slice(0, 4)) expect(members(sim, id)).to.not.include('n5');
    // Restarted, it rejoins above its old incarnation and everyone holds it alive again.
    sim.restart('n5');
    sim.runUntil(25_000);
    for (const id of ids.slice(0, 4)) {
      const back = seen.filter((s) => s.observer === id && s.id === 'n5').at(-1);
      expect(back).to.include({ state: 'alive', incarnation: 2 });
    }
  });

  it('a graceful leave spreads `left`, and the node says nothing afterwards', () => {
    const { sim, ids, seen } = cluster(4);
    sim.runUntil(5_000);
    sim.stop('n4');
    sim.runUntil(8_000);
    for (const id of ids.slice(0, 3)) {
      expect(seen.filter((s) => s.observer === id && s.id === 'n4').at(-1)).to.include({ state: 'left' });
      expect(members(sim, id)).to.not.include('n4');
    }
    expect(seen.some((s) => s.id === 'n4' && s.state === 'dead')).to.equal(false);
  });
});
