import { expect } from 'chai';
import { drawPlan, faultKinds, nodeIdsFor, resolveConfig, runScenario, SimRandom, totalFaults, validatePlan } from '../../src/sim/index.js';

describe('sim/faults', () => {
  it('draws the same plan for the same seed and different plans for different seeds', () => {
    const ids = nodeIdsFor(5);
    const plan = (seed: number): unknown => drawPlan('heavy', SimRandom.root(seed).fork('plan'), ids, 10_000);
    expect(plan(3)).to.deep.equal(plan(3));
    expect(plan(3)).to.not.deep.equal(plan(4));
  });

  it('draws valid plans for every profile over many seeds', () => {
    const ids = nodeIdsFor(5);
    for (const profile of ['none', 'light', 'heavy'] as const) {
      for (let seed = 0; seed < 50; seed++) validatePlan(drawPlan(profile, SimRandom.root(seed).fork('plan'), ids, 10_000), ids);
    }
  });

  it('the heavy profile actually fires every kind of network, node, disk and clock fault', () => {
    // webFail needs a workload that fetches; broadcast does not.
    const kinds = faultKinds.filter((k) => k !== 'webFail');
    const fired: Record<string, number> = {};
    for (let seed = 1; seed <= 5; seed++) {
      const run = runScenario(resolveConfig({ seed, workload: 'broadcast', faults: 'heavy' }));
      for (const kind of kinds) fired[kind] = (fired[kind] ?? 0) + run.faultsInjected[kind];
    }
    for (const kind of kinds) expect(fired[kind], kind).to.be.greaterThan(0);
  });

  it('the none profile fires nothing', () => {
    const run = runScenario(resolveConfig({ seed: 9, workload: 'broadcast', faults: 'none' }));
    expect(totalFaults(run.faultsInjected)).to.equal(0);
    expect(run.result).to.equal('ok');
  });
});
