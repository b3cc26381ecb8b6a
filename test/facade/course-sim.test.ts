/**
 * Course-API code in the simulator (src/sim/workloads/course.ts): many facade nodes share one process
 * and one `globalThis.distribution`, bound to the right node inside each node's events.
 */
import { expect } from 'chai';
import { resolveConfig, runScenario } from '../../src/sim/index.js';
import '../../src/sim/workloads/index.js';

const run = (seed: number, workload = 'course', faults: 'none' | 'heavy' = 'heavy') => runScenario(resolveConfig({ seed, workload, faults }));

describe('course workload (facade in the simulator)', () => {
  it('passes under heavy faults: every answer came from the node whose global served it', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const result = run(seed);
      expect(result.result, `seed ${seed}: ${result.reason}`).to.equal('ok');
      expect(result.stats.opsAnswered).to.be.greaterThan(0);
    }
  });

  it('same seed, same trace hash', () => {
    expect(run(7).traceHash).to.equal(run(7).traceHash);
  });

  it('the checker catches one global shared by every node (the mutant)', () => {
    const result = run(1, 'course-shared-global', 'none');
    expect(result.result).to.equal('safety');
    expect(result.invariant).to.equal('course.global-bound');
  });

  it('outside any node event the global is the one last assigned', () => {
    const marker = { marker: true };
    const saved = (globalThis as { distribution?: unknown }).distribution;
    (globalThis as { distribution?: unknown }).distribution = marker;
    expect((globalThis as { distribution?: unknown }).distribution).to.equal(marker);
    (globalThis as { distribution?: unknown }).distribution = saved;
  });
});
