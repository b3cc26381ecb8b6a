/** The rpc workload: calls under faults complete once with a value or a coded error; determinism. */
import { expect } from 'chai';
import { getWorkload, registerWorkload, resolveConfig, runScenario, type Workload } from '../../../src/sim/index.js';
import '../../../src/sim/workloads/index.js';

const run = (seed: number, workload = 'rpc') => runScenario(resolveConfig({ seed, workload, faults: 'heavy' }));

describe('rpc workload (simulator)', () => {
  it('same seed, same trace hash; another seed, another hash', () => {
    const a = run(5);
    expect(run(5).traceHash).to.equal(a.traceHash);
    expect(run(6).traceHash).to.not.equal(a.traceHash);
  });

  it('passes under heavy faults, and the faults fired', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const result = run(seed);
      expect(result.result, `seed ${seed}: ${result.reason}`).to.equal('ok');
      expect(result.stats.callsIssued).to.be.greaterThan(0);
    }
    const total = [1, 2, 3].map((s) => run(s).faultsInjected).reduce((sum, f) => sum + f.loss + f.duplicate + f.crash, 0);
    expect(total).to.be.greaterThan(0);
  });

  it('the checker catches a callee that forgets calls at once (duplicates run twice)', () => {
    const rpc = getWorkload('rpc') as Workload;
    const forgetful: Workload = { ...rpc, name: 'rpc-forgetful', mutant: true, nodeArgs: (ids, id, ops) => ({ ...(rpc.nodeArgs(ids, id, ops) as object), recentCallsMax: 1 }) };
    if (getWorkload(forgetful.name) === undefined) registerWorkload(forgetful);
    const failures = Array.from({ length: 30 }, (_, i) => run(i + 1, forgetful.name)).filter((r) => r.result === 'safety');
    expect(failures.length).to.be.greaterThan(0);
    expect(failures[0]?.invariant).to.equal('rpc.at-most-once');
  });
});
