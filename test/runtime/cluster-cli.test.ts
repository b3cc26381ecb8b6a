import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { until } from './helpers.js';

const clusterCli = fileURLToPath(new URL('../../src/cli/cluster.js', import.meta.url));
const callCli = fileURLToPath(new URL('../../src/cli/call.js', import.meta.url));
/** Bound on one `npm run call` (a client process that starts, calls once and stops). */
const callWaitMs = 20_000;
/** Bound on waiting for the CLI to report up (generous: a loaded CI box starts processes slowly). */
const upWaitMs = 15_000;

/** A process counts as alive until it has exited; a zombie waiting for its (re)parent to reap it has exited. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

interface Started {
  cli: ChildProcess;
  pids: number[];
  dataDir: string;
  output: () => string;
}

async function startCluster(nodes: number, program?: string): Promise<Started> {
  const programArgs = program === undefined ? [] : ['--program', program];
  const cli = spawn(process.execPath, [clusterCli, '--nodes', String(nodes), '--quiet', ...programArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  cli.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cli.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(() => output.includes('cluster up') || cli.exitCode !== null, upWaitMs, 'cluster up');
  expect(output).to.include('cluster up');
  const pids = [...output.matchAll(/ws:\/\/127\.0\.0\.1:\d+ {2}pid (\d+)/g)].map((m) => Number(m[1]));
  const dataDir = /data in (\S+)/.exec(output)![1]!;
  return { cli, pids, dataDir, output: () => output };
}

describe('cluster CLI (real processes)', function () {
  this.timeout(30_000);
  const started: Started[] = [];

  afterEach(() => {
    // Whatever happened, leave nothing behind.
    for (const { cli, pids, dataDir } of started.splice(0)) {
      cli.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true }); // a SIGKILLed launcher cannot clean up itself
    }
  });

  it('starts N nodes on loopback, prints their addresses, and SIGINT stops them all and removes their data', async () => {
    const run = await startCluster(3);
    started.push(run);
    expect(run.pids).to.have.length(3);
    expect(run.pids.every(alive)).to.equal(true);
    expect(existsSync(run.dataDir)).to.equal(true);
    const exited = new Promise<number | null>((resolve) => run.cli.once('exit', resolve));
    run.cli.kill('SIGINT');
    expect(await exited).to.equal(0);
    expect(run.output()).to.include('all nodes stopped');
    expect(run.pids.filter(alive)).to.deep.equal([]);
    expect(existsSync(run.dataDir)).to.equal(false);
  });

  it('a kv cluster answers the call CLI: put, get through another node, coded errors and exit codes', async () => {
    const run = await startCluster(3, 'kv');
    started.push(run);
    const directory = JSON.parse(readFileSync(`${run.dataDir}/directory.json`, 'utf8')) as Record<string, string>;
    expect(Object.keys(directory)).to.deep.equal(['n1', 'n2', 'n3']);
    const call = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [callCli, '--cluster', run.dataDir, ...args], { encoding: 'utf8', timeout: callWaitMs });
    // The first put may find ownership still settling (the node retries a few times): try until it lands.
    let put = call('n1', 'kv', 'put', '[{"name": "ada", "n": 1}, "user-1"]');
    for (let i = 0; i < 20 && put.status !== 0; i++) put = call('n1', 'kv', 'put', '[{"name": "ada", "n": 1}, "user-1"]');
    expect(put.status, put.stderr).to.equal(0);
    expect(JSON.parse(put.stdout)).to.deep.equal({ name: 'ada', n: 1 });
    const get = call('n2', 'kv', 'get', '["user-1"]');
    expect([get.status, JSON.parse(get.stdout)]).to.deep.equal([0, { name: 'ada', n: 1 }]);
    const missing = call('n3', 'kv', 'get', '["nobody"]');
    expect([missing.status, missing.stderr]).to.satisfy(([status, stderr]: [number, string]) => status === 1 && stderr.startsWith('E_KV_NOT_FOUND'));
    expect(call('n9', 'kv', 'get', '["user-1"]').status).to.equal(2);
    expect(call('n1', 'kv', 'get', 'not json').status).to.equal(2);
    const badAddress = spawnSync(process.execPath, [callCli, '--node', 'n1=127.0.0.1:99999', 'n1', 'kv', 'get'], { encoding: 'utf8', timeout: callWaitMs });
    expect([badAddress.status, badAddress.stderr]).to.satisfy(([status, stderr]: [number, string]) => status === 2 && stderr.includes('port'));
    expect(call('n1', 'nosuch', 'get').stderr).to.match(/^E_NODE_NO_SERVICE/);
  });

  it('nodes die with the launcher even when it is SIGKILLed (IPC disconnect)', async () => {
    const run = await startCluster(2);
    started.push(run);
    run.cli.kill('SIGKILL');
    await until(() => run.pids.every((pid) => !alive(pid)), 10_000, 'orphans to exit');
  });
});
