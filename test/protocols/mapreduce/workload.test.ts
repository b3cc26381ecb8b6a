/** The mapreduce workload under heavy faults: determinism, the checker passes on the real protocol and
 * fails on the drop-batch mutant. */
import { expect } from 'chai';
import { resolveConfig, runScenario } from '../../../src/sim/index.js';
import '../../../src/sim/workloads/mapreduce.js';

const run = (seed: number, workload = 'mapreduce', durationMs?: number) =>
  runScenario(resolveConfig({ seed, workload, faults: 'heavy', ...(durationMs === undefined ? {} : { durationMs }) }));

describe('mapreduce workload (simulator)', () => {
  it('same seed, same trace hash; another seed, another hash', () => {
    const a = run(3, 'mapreduce', 3_000);
    expect(run(3, 'mapreduce', 3_000).traceHash).to.equal(a.traceHash);
    expect(run(4, 'mapreduce', 3_000).traceHash).to.not.equal(a.traceHash);
  });

  it('heavy faults and worker crashes: every answered job equals the sequential reference', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const result = run(seed);
      expect(result.result, `seed ${seed}: ${result.reason}`).to.equal('ok');
      expect(result.stats.jobsOk, `seed ${seed}`).to.be.at.least(3);
      expect(result.faultsInjected.crash, `seed ${seed}`).to.be.above(0);
    }
  });

  it('runs on a single node too (no worker to crash; the shrinker generates such clusters)', () => {
    const single = runScenario(resolveConfig({ seed: 1, workload: 'mapreduce', faults: 'heavy', nodes: 1 }));
    expect(single.result, single.reason).to.equal('ok');
    expect(single.stats.jobsOk).to.be.at.least(3);
  });

  it('the checker fails the mutant mapreduce-drop-batch', () => {
    const failures = [1, 2].map((seed) => run(seed, 'mapreduce-drop-batch')).filter((r) => r.result === 'safety');
    expect(failures.length).to.be.above(0);
    for (const f of failures) expect(f.reason).to.match(/^mapreduce\./);
  });
});
