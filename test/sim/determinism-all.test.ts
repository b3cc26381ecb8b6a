import { expect } from 'chai';
import { checkDeterminism, getWorkload, resolveConfig, workloadNames } from '../../src/sim/index.js';

/**
 * Same seed, same trace, for every registered workload (mutants included: they must fail the same way
 * each time). `checkDeterminism` starts the two runs from different call sites, which is what caught
 * error stacks leaking call sites into message bytes.
 */
describe('simulator: every workload is deterministic', function () {
  this.timeout(120_000);
  for (const name of workloadNames()) {
    it(`${name}: same seed twice gives the same trace hash under heavy faults`, () => {
      const defaults = getWorkload(name)?.defaults;
      expect(defaults, name).to.not.equal(undefined);
      // Shortened runs: determinism shows in the first divergence, not in the length of the run.
      const config = resolveConfig({ seed: 11, workload: name, faults: 'heavy', durationMs: Math.min(defaults!.durationMs, 5_000), ops: Math.min(defaults!.ops, 60) });
      const result = checkDeterminism(config);
      expect(result.divergence, JSON.stringify(result.divergence)).to.equal(undefined);
      expect(result.deterministic).to.equal(true);
      expect(result.first.events).to.be.above(0);
    });
  }
});
