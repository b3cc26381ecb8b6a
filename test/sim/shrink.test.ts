import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findAndShrink, readTrace, replayTrace } from '../../src/sim/index.js';

describe('sim/shrink', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-shrink-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds a failure of the no-retry mutant and shrinks it to a minimal plan file that replays', () => {
    const result = findAndShrink({ workload: 'broadcast-no-retry', runs: 50, dir });
    expect(result.found).to.equal(true);
    const scenario = result.scenario;
    // Minimal: two nodes, one value, one fault that stops a single gossip, nothing else.
    expect(scenario?.nodes).to.equal(2);
    expect(scenario?.ops).to.equal(1);
    const plan = scenario?.plan;
    const scheduled = (plan?.partitions.length ?? 0) + (plan?.clogs.length ?? 0) + (plan?.crashes.length ?? 0) + (plan?.slowNodes?.length ?? 0) + (plan?.pauses?.length ?? 0);
    const rates = [plan?.lossChance, plan?.duplicateChance, plan?.reorderChance, plan?.diskFailChance].filter((r) => r !== 0).length;
    expect(scheduled + rates).to.equal(1);
    const file = result.file as string;
    const trace = readTrace(file);
    expect(trace.events).to.deep.equal([]); // a plan file: header and end line only
    const replay = replayTrace(file);
    expect(replay.matches).to.equal(true);
    expect(replay.run.result).to.equal('liveness');
  });

  it('finds nothing to shrink for the real broadcast', () => {
    const result = findAndShrink({ workload: 'broadcast', runs: 25, dir });
    expect(result.found).to.equal(false);
  });
});
