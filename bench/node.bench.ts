/**
 * The course's M2 workload against its reference implementation (npm `@brown-ds/distribution`), in one run:
 *
 *   comm:  1,000 `comm.send(['nid'], {node, service: 'status', method: 'get'})` calls from a node in this
 *          process to a node in a child process on loopback; sequential, then 50 in flight; calls/s and
 *          p50/p99 latency. Each figure is the median over `rounds` alternating reference/ours rounds.
 *   spawn: `status.spawn` of 1, 10 and 50 nodes one after another from the driving node, until the last
 *          callback has fired (each new node listens); then they are stopped with `status.stop`. The
 *          reference loses callbacks when spawns overlap, so both go one at a time; ours is also timed
 *          with all spawns at once.
 *
 * Ours: a real runtime node (ws transport, binary serializer) running the `node` program; its peer is
 * spawned with our own status.spawn. Reference: `distribution.js --ip --port` children driven with the
 * reference's own `distribution.local.comm.send` and `status.spawn` (HTTP PUT, text serializer).
 * Ours (course facade): the very same driver (bench/course-driver.cjs) on our CommonJS facade bundle, its
 * peer started the same way (`distribution/index.js --ip --port`): course code, unchanged, on our library
 * (calls over ws after one probe, docs/facade.md).
 *
 * Run: npm run build && node dist/bench/node.bench.js [--quick]
 * Writes bench/results/node.json (--quick: node-quick.json). Target (issue 4): comm throughput >= 10x the reference.
 */
import { fork, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRuntime, type Runtime } from '../src/runtime/index.js';
import { createNodeProgram, type GroupsLayer } from '../src/protocols/groups/index.js';
import { nodeIdOf, type Callback, type DistNode, type NodeAddress } from '../src/protocols/node/index.js';
import { callLoop, median, percentileUs, printTable, ratio, settle, writeResult, type LoopCallback } from './harness.js';

const require = createRequire(import.meta.url);
const repoRoot = join(fileURLToPath(import.meta.url), '..', '..', '..');
const quickRun = process.argv.includes('--quick');
const callsCount = 1_000;
const inFlight = 50;
const rounds = quickRun ? 1 : 5;
const warmupLoops = quickRun ? 4 : 20;
const spawnCounts = quickRun ? [1, 10] : [1, 10, 50];
const host = '127.0.0.1';
/** Waiting for a reference node to listen gives up after this long. */
const refUpMsMax = 10_000;

/** What each contender offers the benchmark; the loops run next to the calling node. */
interface Contender {
  readonly name: string;
  /** `callsCount` comm.send calls to `peer` with at most `window` in flight. */
  comm(peer: NodeAddress, window: number): Promise<{ latenciesMs: number[]; elapsedMs: number }>;
  /** Spawns every config, one after another (or all at once); ms until every callback fired. */
  spawn(configs: NodeAddress[], parallel: boolean): Promise<number>;
  stop(configs: NodeAddress[]): Promise<void>;
  close(): Promise<void>;
}

type CommService = { send(message: unknown[], remote: unknown, cb: Callback): void };
type StatusService = { spawn(config: unknown, cb: Callback): void };

async function startOurs(port: number): Promise<Contender> {
  const dataDir = mkdtempSync(join(tmpdir(), 'distribution-bench-node-'));
  const self = { ip: host, port };
  const runtime: Runtime = await createRuntime({ nodeId: nodeIdOf(self), dataDir, seed: 'bench' });
  const node: DistNode = (runtime.run(createNodeProgram, { config: self, antiEntropyMs: 0 }).inspect?.() as GroupsLayer).node;
  const comm = node.services.get('comm') as CommService;
  const status = node.services.get('status') as StatusService;
  return {
    name: 'ours',
    comm: (peer, window) => commLoop((cb) => comm.send(['nid'], { node: peer, service: 'status', method: 'get' }, cb), window),
    spawn: async (configs, parallel) => {
      const spawnOne = async (config: NodeAddress): Promise<void> => {
        const [err] = await once((cb) => status.spawn(config, cb));
        if (err !== null) throw err;
      };
      const startMs = performance.now();
      if (parallel) await Promise.all(configs.map(spawnOne));
      else for (const config of configs) await spawnOne(config);
      return performance.now() - startMs;
    },
    stop: async (configs) => {
      await Promise.all(configs.map((config) => once((cb) => comm.send([], { node: config, service: 'status', method: 'stop' }, cb))));
    },
    close: async () => {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function commLoop(send: (cb: Callback) => void, window: number): Promise<{ latenciesMs: number[]; elapsedMs: number }> {
  return callLoop(send as (cb: LoopCallback) => void, callsCount, window);
}

/** Course-API contenders run in processes of their own: a driver node (bench/course-driver.cjs) and the peers. */
class CourseDriver {
  private waiting: ((reply: Record<string, unknown>) => void) | undefined;
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: Record<string, unknown>) => this.waiting?.(reply));
  }

  static async start(config: NodeAddress, library: CourseLibrary): Promise<CourseDriver> {
    const script = join(repoRoot, 'bench', 'course-driver.cjs');
    const child = fork(script, [JSON.stringify(config), library], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    const driver = new CourseDriver(child);
    await driver.request({ type: 'ready' }, true);
    return driver;
  }

  /** One request, one reply (the benchmark issues them one at a time). */
  request(message: Record<string, unknown>, justWait = false): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting = (reply) => (reply.type === 'error' ? reject(new Error(String(reply.message))) : resolve(reply));
      if (!justWait) this.child.send(message);
    });
  }

  close(): void {
    this.child.kill();
  }
}

type CourseLibrary = 'reference' | 'ours';

/** A course-API library driven through its own `comm.send` / `status.spawn`: the reference, or our facade. */
async function startCourse(port: number, library: CourseLibrary): Promise<Contender> {
  const driver = await CourseDriver.start({ ip: host, port }, library);
  return {
    name: library === 'reference' ? 'reference' : 'ours (course facade)',
    comm: async (peer, window) => {
      const reply = await driver.request({ type: 'comm', peer, count: callsCount, window });
      return { latenciesMs: reply.latenciesMs as number[], elapsedMs: reply.elapsedMs as number };
    },
    spawn: async (configs) => (await driver.request({ type: 'spawn', configs })).elapsedMs as number,
    stop: async (configs) => void (await driver.request({ type: 'stop', configs })),
    close: async () => driver.close(),
  };
}

/** A course node in a child process, as `distribution.js --ip --port` starts it (ours: the facade bundle). */
async function startCoursePeer(config: NodeAddress, library: CourseLibrary): Promise<ChildProcess> {
  const entry = library === 'reference' ? require.resolve('@brown-ds/distribution/distribution.js') : join(repoRoot, 'distribution', 'index.js');
  const child = spawnProcess(process.execPath, [entry, '--ip', config.ip, '--port', String(config.port)], { cwd: repoRoot, stdio: 'ignore' });
  const deadlineMs = performance.now() + refUpMsMax;
  // Up once a TCP connection to its port succeeds.
  while (!(await canConnect(config))) {
    if (performance.now() > deadlineMs) throw new Error('reference peer did not come up');
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

function canConnect(config: NodeAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(config.port, config.ip, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function once(start: (cb: Callback) => void): Promise<[Error | null, unknown]> {
  return settle(start as (cb: LoopCallback) => void) as Promise<[Error | null, unknown]>;
}

interface CommResult {
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
}

async function drive(contender: Contender, peer: NodeAddress, window: number): Promise<CommResult> {
  const { latenciesMs, elapsedMs } = await contender.comm(peer, window);
  return { callsPerSec: (callsCount / elapsedMs) * 1000, p50Us: percentileUs(latenciesMs, 0.5), p99Us: percentileUs(latenciesMs, 0.99) };
}

function medianResult(results: CommResult[]): CommResult {
  return { callsPerSec: median(results.map((r) => r.callsPerSec)), p50Us: median(results.map((r) => r.p50Us)), p99Us: median(results.map((r) => r.p99Us)) };
}

/** Spawns `count` nodes at once; returns ms until every callback fired, then stops them. */
async function spawnTime(contender: Contender, basePort: number, count: number, parallel = false): Promise<number> {
  const configs = Array.from({ length: count }, (_, i) => ({ ip: host, port: basePort + i }));
  const elapsedMs = await contender.spawn(configs, parallel);
  await contender.stop(configs);
  await new Promise((r) => setTimeout(r, 500)); // let the stopped processes exit before the next round
  return elapsedMs;
}

async function main(): Promise<void> {
  const reference = await startCourse(19200, 'reference');
  const ours = await startOurs(19100);
  const facade = await startCourse(19300, 'ours');
  const contenders = [reference, ours, facade];
  const peers = new Map<Contender, NodeAddress>([[reference, { ip: host, port: 19201 }], [ours, { ip: host, port: 19101 }], [facade, { ip: host, port: 19301 }]]);
  await ours.spawn([peers.get(ours)!], false);
  const coursePeers = [await startCoursePeer(peers.get(reference)!, 'reference'), await startCoursePeer(peers.get(facade)!, 'ours')];
  const samples = new Map(contenders.map((c) => [c, { sequential: [] as CommResult[], pipelined: [] as CommResult[] }]));
  // Warm-up: JIT on both sides of every contender (the first thousand calls run several times slower).
  for (let i = 0; i < warmupLoops; i++) for (const system of contenders) await drive(system, peers.get(system)!, i % 2 === 0 ? 1 : inFlight);
  for (let round = 0; round < rounds; round++) {
    for (const system of contenders) {
      const s = samples.get(system)!;
      s.sequential.push(await drive(system, peers.get(system)!, 1));
      s.pipelined.push(await drive(system, peers.get(system)!, inFlight));
    }
  }
  const comm = (system: Contender) => ({ sequential: medianResult(samples.get(system)!.sequential), pipelined: medianResult(samples.get(system)!.pipelined) });
  const commBy = new Map(contenders.map((c) => [c, comm(c)]));
  const refComm = commBy.get(reference)!;
  const row = (system: Contender, mode: 'sequential' | 'pipelined'): Record<string, string> => {
    const r = commBy.get(system)![mode];
    return {
      system: system.name, mode: mode === 'sequential' ? mode : `${inFlight} in flight`, 'calls/s': r.callsPerSec.toFixed(0), p50: `${r.p50Us} µs`, p99: `${r.p99Us} µs`,
      'vs reference': ratio(r.callsPerSec, refComm[mode].callsPerSec),
    };
  };
  console.log(`\ncomm.send x ${callsCount}, median of ${rounds} alternating rounds`);
  printTable((['sequential', 'pipelined'] as const).flatMap((mode) => contenders.map((c) => row(c, mode))));

  const spawnMs: Record<string, { reference: number; ours: number; oursParallel: number; facade: number }> = {};
  let basePort = 20_000;
  for (const count of spawnCounts) {
    const refMs = await spawnTime(reference, basePort, count);
    const ourMs = await spawnTime(ours, basePort + 100, count);
    const ourParallelMs = await spawnTime(ours, basePort + 200, count, true);
    const facadeMs = await spawnTime(facade, basePort + 300, count);
    basePort += 400;
    spawnMs[String(count)] = { reference: Math.round(refMs), ours: Math.round(ourMs), oursParallel: Math.round(ourParallelMs), facade: Math.round(facadeMs) };
  }
  console.log('\nstatus.spawn of N nodes one after another (and ours all at once), ms until the last one listens');
  printTable(Object.entries(spawnMs).map(([count, r]) => ({
    nodes: count, reference: `${r.reference} ms`, ours: `${r.ours} ms`, 'ours/reference': ratio(r.ours, r.reference), 'ours, all at once': `${r.oursParallel} ms`,
    'course facade': `${r.facade} ms`, 'facade/reference': ratio(r.facade, r.reference),
  })));

  const file = writeResult(quickRun ? 'node-quick' : 'node', {
    callsCount, inFlight, rounds, comm: { ours: commBy.get(ours), reference: refComm, facade: commBy.get(facade) }, spawnMs,
  });
  console.log(`\nwrote ${file}`);
  for (const system of [reference, facade]) await system.stop([peers.get(system)!]).catch(() => undefined);
  for (const child of coursePeers) child.kill();
  for (const system of contenders) await system.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
