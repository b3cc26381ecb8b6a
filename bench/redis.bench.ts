/**
 * Storage against Redis on loopback (issue 5), in one run:
 *
 *   ours:  a node in this process calling `mem` and `store` put/get on a node it spawned (real child
 *          process, ws transport, binary serializer; `store` answers only once lmdb has committed).
 *   ours (kv program): the fault-tolerant store on three spawned nodes (`kv` program: SWIM membership,
 *          ownership tokens, Lamport versions, lmdb), through the `kv` service of the first node, which
 *          forwards two calls in three to the key's owner; and through `KvClient`, which sends each call
 *          straight to the owner its view names.
 *   Redis: `redis-server` started here on a free loopback port with persistence off (`--save ''
 *          --appendonly no`), driven by a minimal RESP client over one TCP connection (SET / GET).
 *
 * Each: `opsCount` puts then `opsCount` gets of five-property objects, with one operation at a time and
 * with 50 in flight; ops/s and p50/p99; medians of `rounds` alternating rounds. Target: our gets at
 * least 0.5x Redis with one client.
 *
 * Run: npm run build && npm run bench:redis   (needs redis-server: apt-get install -y redis-server)
 * Writes bench/results/redis.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hosts, SpawnResult } from '../src/env/index.js';
import { createRuntime } from '../src/runtime/index.js';
import { createNodeProgram, type GroupsLayer } from '../src/protocols/groups/index.js';
import { KvClient, kvClientService } from '../src/protocols/kv/index.js';
import { nodeIdOf, type DistNode, type NodeAddress } from '../src/protocols/node/index.js';
import { callLoop, median, percentileUs, printTable, ratio, settle, writeResult, type LoopCallback } from './harness.js';

const host = '127.0.0.1';
const opsCount = 2_000;
const inFlight = 50;
const rounds = 3;
/** Waiting for redis-server to accept connections gives up after this many tries, 50 ms apart. */
const redisUpTriesMax = 100;
/** The kv program's nodes, and how long its first put may take while ownership settles. */
const kvNodes = ['kv1', 'kv2', 'kv3'];
const kvReadyTriesMax = 200;

interface Store {
  readonly name: string;
  put(key: string, value: object, cb: LoopCallback): void;
  get(key: string, cb: LoopCallback): void;
}

interface Figures { opsPerSec: number; p50Us: number; p99Us: number }

function record(i: number): object {
  return { id: i, name: `user${i}`, email: `user${i}@example.org`, score: i * 1.25, active: i % 3 === 0 };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// ---- Redis: the server and a minimal RESP client -------------------------------------------------

/** Pipelined RESP over one connection: replies come back in request order. */
class RespClient {
  private readonly waiting: LoopCallback[] = [];
  private buffered: Buffer = Buffer.alloc(0);

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static open(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RespClient(socket)));
      socket.once('error', reject);
    });
  }

  command(args: readonly string[], cb: LoopCallback): void {
    let text = `*${args.length}\r\n`;
    for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    this.waiting.push(cb);
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const parsed = parseReply(this.buffered);
      if (parsed === undefined) return;
      this.buffered = this.buffered.subarray(parsed.end);
      this.waiting.shift()?.(parsed.error, parsed.value);
    }
  }
}

/** One RESP reply from the start of `data` (simple string, error, integer or bulk string), or undefined
 * when it is not all there yet. */
function parseReply(data: Buffer): { value: unknown; error: Error | null; end: number } | undefined {
  const lineEnd = data.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(data[0] as number);
  const line = data.toString('utf8', 1, lineEnd);
  if (kind === '+' || kind === ':') return { value: line, error: null, end: lineEnd + 2 };
  if (kind === '-') return { value: undefined, error: new Error(line), end: lineEnd + 2 };
  const length = Number(line);
  if (length < 0) return { value: null, error: null, end: lineEnd + 2 };
  if (data.length < lineEnd + 2 + length + 2) return undefined;
  return { value: data.toString('utf8', lineEnd + 2, lineEnd + 2 + length), error: null, end: lineEnd + 2 + length + 2 };
}

async function startRedis(): Promise<{ store: Store; close(): void } | undefined> {
  if (spawnSync('which', ['redis-server']).status !== 0) {
    console.log('redis-server is not installed: apt-get update && apt-get install -y redis-server (Redis part skipped)');
    return undefined;
  }
  const port = await freePort();
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  let client: RespClient | undefined;
  for (let tries = 0; client === undefined; tries++) {
    if (tries >= redisUpTriesMax) throw new Error('redis-server did not come up');
    await new Promise((r) => setTimeout(r, 50));
    client = await RespClient.open(port).catch(() => undefined);
  }
  const resp = client;
  return {
    store: {
      name: 'Redis',
      put: (key, value, cb) => resp.command(['SET', key, JSON.stringify(value)], cb),
      get: (key, cb) => resp.command(['GET', key], (err, value) => cb(err ?? (value === null ? new Error(`missing ${key}`) : null), value)),
    },
    close: () => {
      resp.close();
      server.kill();
    },
  };
}

// ---- ours: a node in this process, its peer a spawned child ------------------------------------

async function startOurs(): Promise<{ stores: Store[]; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'distribution-bench-redis-'));
  const self: NodeAddress = { ip: host, port: await freePort() };
  const peer: NodeAddress = { ip: host, port: await freePort() };
  const runtime = await createRuntime({ nodeId: nodeIdOf(self), dataDir, seed: 'bench' });
  const node: DistNode = (runtime.run(createNodeProgram, { config: self, antiEntropyMs: 0 }).inspect?.() as GroupsLayer).node;
  const comm = node.services.get('comm') as { send(message: unknown[], remote: unknown, cb: LoopCallback): void };
  const status = node.services.get('status') as { spawn(config: unknown, cb: LoopCallback): void };
  const [spawnErr] = await settle((cb) => status.spawn(peer, cb));
  if (spawnErr) throw spawnErr;
  const storeOf = (service: 'mem' | 'store'): Store => ({
    name: `ours (${service})`,
    put: (key, value, cb) => comm.send([value, key], { node: peer, service, method: 'put' }, cb),
    get: (key, cb) => comm.send([key], { node: peer, service, method: 'get' }, cb),
  });
  const kv = await startKv(runtime.env.hosts, node);
  return {
    stores: [storeOf('mem'), storeOf('store'), ...kv],
    close: async () => {
      await settle((cb) => comm.send([], { node: peer, service: 'status', method: 'stop' }, cb));
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Three `kv` program nodes spawned from this process; ready once a put is acknowledged. */
async function startKv(hosts: Hosts, node: DistNode): Promise<Store[]> {
  const args = { nodes: kvNodes, engine: 'store' };
  const spawned = await Promise.all(kvNodes.map((id) => new Promise<SpawnResult>((resolve) => hosts.spawn({ id, program: 'kv', args }, resolve))));
  for (const result of spawned) if (!result.ok) throw result.error;
  const call = (method: string, args: unknown[], cb: LoopCallback): void => node.callRemote(kvNodes[0]!, kvClientService, method, args, cb);
  for (let tries = 0; ; tries++) {
    const [err] = await settle((cb) => call('put', ['ready', 'bench:ready'], cb));
    if (err === null) break;
    if (tries >= kvReadyTriesMax) throw err;
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new KvClient(node, kvNodes);
  const settled = (promise: Promise<unknown>, cb: LoopCallback): void => void promise.then((value) => cb(null, value), (err: Error) => cb(err));
  return [
    { name: 'ours (kv, via one node)', put: (key, value, cb) => call('put', [value, key], cb), get: (key, cb) => call('get', [key], cb) },
    { name: 'ours (kv, KvClient)', put: (key, value, cb) => settled(client.put(key, value), cb), get: (key, cb) => settled(client.get(key), cb) },
  ];
}

// ---- the run --------------------------------------------------------------------------------------

async function measureStore(store: Store, round: number, window: number): Promise<{ put: Figures; get: Figures }> {
  const key = (i: number): string => `bench:${round}:${window}:${i}`;
  let next = 0;
  const put = await callLoop((cb) => { const i = next++; store.put(key(i), record(i), cb); }, opsCount, window);
  next = 0;
  const get = await callLoop((cb) => store.get(key(next++), cb), opsCount, window);
  const figures = (r: { latenciesMs: number[]; elapsedMs: number }): Figures => ({
    opsPerSec: (opsCount / r.elapsedMs) * 1000, p50Us: percentileUs(r.latenciesMs, 0.5), p99Us: percentileUs(r.latenciesMs, 0.99),
  });
  return { put: figures(put), get: figures(get) };
}

function medianFigures(samples: Figures[]): Figures {
  return { opsPerSec: median(samples.map((s) => s.opsPerSec)), p50Us: median(samples.map((s) => s.p50Us)), p99Us: median(samples.map((s) => s.p99Us)) };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const ours = await startOurs();
  const stores = [...ours.stores, ...(redis ? [redis.store] : [])];
  const results: Record<string, Record<string, { put: Figures; get: Figures }>> = {};
  try {
    for (const window of [1, inFlight]) {
      const samples = new Map<string, Array<{ put: Figures; get: Figures }>>();
      for (let round = 0; round < rounds; round++) {
        for (const store of stores) {
          const sample = await measureStore(store, round, window);
          samples.set(store.name, [...(samples.get(store.name) ?? []), sample]);
        }
      }
      const label = window === 1 ? 'one at a time' : `${window} in flight`;
      results[label] = Object.fromEntries([...samples].map(([name, list]) => [name, { put: medianFigures(list.map((s) => s.put)), get: medianFigures(list.map((s) => s.get)) }]));
      report(label, results[label] as Record<string, { put: Figures; get: Figures }>);
    }
  } finally {
    await ours.close();
    redis?.close();
  }
  console.log(`\nwrote ${writeResult('redis', { opsCount, rounds, results })}`);
}

function report(label: string, figures: Record<string, { put: Figures; get: Figures }>): void {
  const redis = figures['Redis'];
  console.log(`\n== ${label}: ${opsCount} puts then ${opsCount} gets, median of ${rounds} rounds`);
  printTable(Object.entries(figures).map(([name, f]) => ({
    store: name,
    'put/s': Math.round(f.put.opsPerSec).toLocaleString('en-US'),
    'put p50/p99 µs': `${f.put.p50Us} / ${f.put.p99Us}`,
    'get/s': Math.round(f.get.opsPerSec).toLocaleString('en-US'),
    'get p50/p99 µs': `${f.get.p50Us} / ${f.get.p99Us}`,
    'put vs Redis': redis && name !== 'Redis' ? ratio(f.put.opsPerSec, redis.put.opsPerSec) : '',
    'get vs Redis': redis && name !== 'Redis' ? ratio(f.get.opsPerSec, redis.get.opsPerSec) : '',
  })));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
