/** The gossip workload: a message gossiped in a group reaches every live node after healing; determinism. */
import { expect } from 'chai';
import { getWorkload, registerWorkload, resolveConfig, runScenario, type Workload } from '../../../src/sim/index.js';
import '../../../src/sim/workloads/index.js';

const run = (seed: number, workload = 'gossip') => runScenario(resolveConfig({ seed, workload, faults: 'heavy' }));

describe('gossip workload (simulator)', () => {
  it('same seed, same trace hash; another seed, another hash', () => {
    const a = run(5);
    expect(run(5).traceHash).to.equal(a.traceHash);
    expect(run(6).traceHash).to.not.equal(a.traceHash);
  });

  it('converges after healing under heavy faults', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const result = run(seed);
      expect(result.result, `seed ${seed}: ${result.reason}`).to.equal('ok');
      expect(result.stats.valuesHeldMin).to.equal(result.stats.valuesHeldMax);
    }
  });

  it('without anti-entropy, some seed fails liveness (the checker can fail)', () => {
    const gossip = getWorkload('gossip') as Workload;
    const rumourOnly: Workload = {
      ...gossip, name: 'gossip-rumour-only', mutant: true,
      nodeArgs: (ids, id, ops) => ({ ...(gossip.nodeArgs(ids, id, ops) as object), antiEntropyMs: 0 }),
    };
    if (getWorkload(rumourOnly.name) === undefined) registerWorkload(rumourOnly);
    const failures = Array.from({ length: 10 }, (_, i) => runScenario(resolveConfig({ seed: i + 1, workload: rumourOnly.name, faults: 'heavy', livenessMsMax: 2_000 })))
      .filter((r) => r.result === 'liveness');
    expect(failures.length).to.be.greaterThan(0);
  });
});
