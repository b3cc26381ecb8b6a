import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const cli = path.resolve('dist/src/cli/sim.js');

function sim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
}

describe('sim CLI', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exit 0 and a one-line JSON summary with the required fields; the trace replays to the same hash', () => {
    const trace = path.join(dir, 'run.ndjson');
    const r = sim('--seed', '42', '--faults', 'heavy', '--json', '--trace', trace);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/result\s+OK/);
    const summary = lastJson(r.stdout);
    for (const key of ['seed', 'workload', 'result', 'traceHash', 'traceFile', 'events', 'simTimeMs', 'wallMs', 'faultsInjected']) {
      expect(summary, key).to.have.property(key);
    }
    expect(summary).to.include({ seed: 42, workload: 'broadcast', result: 'ok', traceFile: trace });
    const replay = sim('--replay', trace, '--json');
    expect(replay.code, replay.stderr).to.equal(0);
    expect(lastJson(replay.stdout)).to.include({ traceHash: summary.traceHash, replayMatches: true });
  });

  it('exit 1 on a safety violation and 2 on a liveness failure', () => {
    expect(sim('--seed', '1', '--workload', 'broadcast-invent', '--no-trace').code).to.equal(1);
    const live = sim('--seed', '1', '--workload', 'broadcast-no-retry', '--faults', 'heavy', '--no-trace', '--json');
    expect(live.code).to.equal(2);
    expect(lastJson(live.stdout)).to.include({ result: 'liveness' });
  });

  it('exit 3 when the simulator cannot run (a corrupt trace to replay)', () => {
    const bad = path.join(dir, 'bad.ndjson');
    fs.writeFileSync(bad, '{"type":"header","version":1}\n');
    expect(sim('--replay', bad).code).to.equal(3);
  });

  it('sweeps seeds and lists failing ones with repro commands', () => {
    const r = sim('--seeds', '1-3', '--workload', 'broadcast-no-retry', '--faults', 'heavy', '--json');
    expect(r.code).to.equal(2);
    expect(r.stdout).to.match(/failing seeds \(3\)/);
    expect(r.stdout).to.include('npm run sim -- --seed 2 --workload broadcast-no-retry --faults heavy');
    expect(lastJson(r.stdout)).to.include({ runs: 3, ok: 0 });
  });

  it('--plan runs a fault plan given as a file: it fires, replays, names the file in repro commands, and bad plans are refused', () => {
    const plan = path.join(dir, 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({ pauses: [{ atMs: 2000, durationMs: 1500, node: 'n2' }], lossChance: 0.3 }));
    const trace = path.join(dir, 'plan.ndjson');
    const r = sim('--seed', '3', '--plan', plan, '--json', '--trace', trace);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`faults plan ${plan}`);
    const summary = lastJson(r.stdout);
    expect((summary.faultsInjected as Record<string, number>).pause).to.equal(1);
    expect((summary.faultsInjected as Record<string, number>).loss).to.be.greaterThan(0);
    expect(lastJson(sim('--replay', trace, '--json').stdout)).to.include({ traceHash: summary.traceHash, replayMatches: true });
    const failing = sim('--seeds', '1-2', '--workload', 'broadcast-no-retry', '--plan', plan);
    expect(failing.code).to.equal(2);
    expect(failing.stdout).to.include(`--plan ${plan}`);
    const bad = path.join(dir, 'bad-plan.json');
    fs.writeFileSync(bad, JSON.stringify({ pauses: [{ atMs: 0, durationMs: 10, node: 'n9' }] }));
    const refused = sim('--plan', bad);
    expect(refused.code).to.equal(3);
    expect(refused.stderr).to.include('pauses.node');
    expect(sim('--plan', path.join(dir, 'missing.json')).stderr).to.include('--plan');
  });

  it('checks determinism', () => {
    const r = sim('--check-determinism', '--seed', '4', '--faults', 'heavy', '--json');
    expect(r.code, r.stderr).to.equal(0);
    expect(lastJson(r.stdout)).to.include({ deterministic: true });
  });
});
