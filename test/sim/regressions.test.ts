import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getWorkload, readTrace, regressionsDir, replayTrace } from '../../src/sim/index.js';

/**
 * Every file in traces/regressions/ is a scenario that once failed, shrunk to a minimal plan. Replayed
 * forever: a mutant's scenario must keep failing the same way (the checker still catches it); a real
 * workload's scenario must now pass (the bug stays fixed).
 */
describe('traces/regressions', () => {
  const files = fs.existsSync(regressionsDir) ? fs.readdirSync(regressionsDir).filter((f) => f.endsWith('.ndjson')).sort() : [];

  it('has regression files to replay', () => {
    expect(files.length).to.be.greaterThan(0);
  });

  for (const name of files) {
    it(`replays ${name}`, () => {
      const file = path.join(regressionsDir, name);
      const recorded = readTrace(file);
      const workload = getWorkload(String((recorded.header.config as { workload?: unknown }).workload));
      expect(workload, 'workload still registered').to.not.equal(undefined);
      const replay = replayTrace(file);
      if (workload?.mutant === true) {
        expect(replay.run.result).to.equal(recorded.end?.result);
      } else {
        expect(replay.run.result, replay.run.reason).to.equal('ok');
      }
    });
  }
});
