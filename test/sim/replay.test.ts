import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Env, NodeProgram } from '../../src/env/index.js';
import fc from 'fast-check';
import { checkDeterminism, registerWorkload, replayTrace, resolveConfig, runScenario, readTrace, scenarioArbitrary, scenarioConfig } from '../../src/sim/index.js';

/** Deliberate nondeterminism: a counter that lives outside the simulation, so a second run in the same
 * process sends different bytes. This is exactly the bug class (module state, wall clocks) the check
 * exists to catch. */
let leakedCounter = 0;

function leakyNode(env: Env): NodeProgram {
  env.net.listen('x', () => {});
  env.timers.set(50, () => env.net.send(env.nodeId === 'n1' ? 'n2' : 'n1', 'x', Uint8Array.of(leakedCounter++ & 0xff)));
  return {};
}

registerWorkload({
  name: 'test-leaky',
  description: 'test only: leaks state across runs',
  program: leakyNode,
  defaults: { nodes: 2, durationMs: 200, ops: 0, livenessMsMax: 100 },
  nodeArgs: () => ({}),
  create: () => ({ start() {}, checkStep: () => undefined, checkAll: () => undefined, isLive: () => true, livenessReport: () => '', stats: () => ({}) }),
});

describe('sim/replay and determinism', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-replay-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a trace with a header, canonical event lines, an end line, and no wall-clock time', () => {
    const file = path.join(dir, 'a.ndjson');
    const run = runScenario(resolveConfig({ seed: 3, workload: 'broadcast', faults: 'heavy', durationMs: 2000, ops: 10 }), { traceFile: file });
    const trace = readTrace(file);
    expect(trace.header).to.include({ type: 'header', version: 1, seed: 3 });
    expect(trace.header).to.have.property('plan');
    expect(trace.end).to.include({ type: 'end', traceHash: run.traceHash, result: run.result });
    expect(trace.events.length).to.equal(run.traceLines);
    for (const line of trace.events.slice(0, 200)) {
      const keys = Object.keys(JSON.parse(line) as object);
      expect(keys.slice(0, 4)).to.deep.equal(['t', 'i', 'node', 'kind']);
      expect(keys.slice(4)).to.deep.equal([...keys.slice(4)].sort());
    }
    expect(fs.readFileSync(file, 'utf8')).to.not.match(/wall/i);
  });

  it('replaying a trace reproduces its hash', () => {
    const file = path.join(dir, 'b.ndjson');
    const run = runScenario(resolveConfig({ seed: 8, workload: 'broadcast', faults: 'heavy' }), { traceFile: file });
    const replay = replayTrace(file);
    expect(replay.matches).to.equal(true);
    expect(replay.run.traceHash).to.equal(run.traceHash);
    expect(replay.run.result).to.equal(run.result);
  });

  it('replay names the first diverging line of a tampered trace', () => {
    const file = path.join(dir, 'c.ndjson');
    runScenario(resolveConfig({ seed: 2, workload: 'broadcast', faults: 'light', durationMs: 1000, ops: 5 }), { traceFile: file });
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[10] = (lines[10] as string).replace('"t":', '"t":1');
    const endIndex = lines.findIndex((l) => l.startsWith('{"type":"end"'));
    lines[endIndex] = (lines[endIndex] as string).replace(/"traceHash":"[0-9a-f]+"/, '"traceHash":"0000000000000000"');
    fs.writeFileSync(file, lines.join('\n'));
    const replay = replayTrace(file);
    expect(replay.matches).to.equal(false);
    expect(replay.divergence?.line).to.equal(11);
  });

  it('the determinism check passes for broadcast under heavy faults', () => {
    const result = checkDeterminism(resolveConfig({ seed: 5, workload: 'broadcast', faults: 'heavy' }));
    expect(result.deterministic).to.equal(true);
    expect(result.first.traceHash).to.equal(result.second.traceHash);
  });

  it('any generated scenario (nodes, ops, fault plan) gives the same hash twice (property)', () => {
    fc.assert(
      fc.property(scenarioArbitrary(2000, 20), (scenario) => {
        const config = scenarioConfig('broadcast', 2000, scenario);
        expect(runScenario(config).traceHash).to.equal(runScenario(config).traceHash);
      }),
      { numRuns: 20, seed: 3 },
    );
  });

  it('the determinism check finds injected nondeterminism and names the diverging event', () => {
    const result = checkDeterminism(resolveConfig({ seed: 1, workload: 'test-leaky' }));
    expect(result.deterministic).to.equal(false);
    const d = result.divergence;
    expect(d).to.not.equal(undefined);
    expect(d?.expected).to.match(/"kind":"send"/);
    expect(JSON.parse(d?.expected ?? '{}')).to.include({ t: 50, node: 'n1' });
  });
});
