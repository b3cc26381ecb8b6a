/** The kv workload under heavy faults: determinism, the checker passes on the real protocol and fails on mutants. */
import { expect } from 'chai';
import { resolveConfig, runScenario } from '../../../src/sim/index.js';
import '../../../src/sim/workloads/index.js';

const run = (seed: number, workload = 'kv', ops?: number) => runScenario(resolveConfig({ seed, workload, faults: 'heavy', ...(ops === undefined ? {} : { ops }) }));

describe('kv workload (simulator)', function () {
  this.timeout(60_000);
  it('same seed, same trace hash; another seed, another hash', () => {
    const hashes = [5, 5, 6].map((seed) => run(seed, 'kv', 120).traceHash);
    expect(hashes[1]).to.equal(hashes[0]);
    expect(hashes[2]).to.not.equal(hashes[0]);
  });

  it('heavy faults: no lost acknowledged write, no stale read, one owner per key after healing', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = run(seed);
      expect(result.result, `seed ${seed}: ${result.reason}`).to.equal('ok');
      expect(result.stats.putsAcked, `seed ${seed}`).to.be.above(0);
      expect(result.faultsInjected.crash, `seed ${seed}`).to.be.above(0);
    }
  });

  for (const mutant of ['kv-ack-early', 'kv-move-before-copy', 'kv-list-unsettled']) {
    it(`the checker fails the mutant ${mutant}`, () => {
      const failures = [1, 2, 4].map((seed) => run(seed, mutant)).filter((r) => r.result === 'safety');
      expect(failures.length).to.be.above(0);
      for (const failure of failures) expect(failure.reason).to.match(/^kv\./);
    });
  }
});
