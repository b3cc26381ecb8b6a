/**
 * Transport benchmark: our ws transport (frames through the project serializer, coalescing) between two
 * node processes, against a raw `ws` echo peer in another process, in the same run.
 *
 *   sequential: one message in flight; round trips/s and p50/p99 latency
 *   pipelined:  `windowSize` messages in flight; echoed messages/s
 *   each figure is the median over `rounds` alternating raw/ours runs
 *
 * Run: npm run build && node dist/bench/transport.bench.js [--quick]
 * Writes bench/results/transport.json (--quick: transport-quick.json). Targets (issue 3): sequential >= 0.6x raw ws; pipelined >= 75,000 msg/s.
 *
 * When a node child imports this module (programModules) it only registers the `bench-echo` program.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { Env } from '../src/env/index.js';
import { assert } from '../src/lib/assert.js';
import { createRuntime, launchNode, registerProgram, type LaunchedNode, type Runtime } from '../src/runtime/index.js';

const thisFile = fileURLToPath(import.meta.url);
const payloadBytes = 64;
const windowSize = 1_000;

interface Config {
  readonly sequentialRoundTrips: number;
  readonly pipelinedMessages: number;
  readonly warmupRoundTrips: number;
  /** Raw and ours are measured alternately this many times; medians are reported (the box may be shared). */
  readonly rounds: number;
}

const full: Config = { sequentialRoundTrips: 10_000, pipelinedMessages: 300_000, warmupRoundTrips: 2_000, rounds: 3 };
const quick: Config = { sequentialRoundTrips: 2_000, pipelinedMessages: 50_000, warmupRoundTrips: 500, rounds: 1 };

registerProgram('bench-echo', (env: Env) => {
  env.net.listen('echo', (from, payload) => env.net.send(from, 'echo-reply', payload));
  return {};
});

/** Something that can send one payload and call back on each echo. */
interface EchoClient {
  send(payload: Uint8Array): void;
  onReply(handler: () => void): void;
}

interface SequentialResult {
  roundTripsPerSec: number;
  p50Us: number;
  p99Us: number;
}

async function sequential(client: EchoClient, count: number): Promise<SequentialResult> {
  const payload = new Uint8Array(payloadBytes);
  const latenciesMs = new Float64Array(count);
  let done = 0;
  let sentAtMs = 0;
  const startMs = performance.now();
  await new Promise<void>((resolve) => {
    client.onReply(() => {
      latenciesMs[done++] = performance.now() - sentAtMs;
      if (done === count) return resolve();
      sentAtMs = performance.now();
      client.send(payload);
    });
    sentAtMs = performance.now();
    client.send(payload);
  });
  const elapsedMs = performance.now() - startMs;
  latenciesMs.sort();
  return {
    roundTripsPerSec: Math.round((count / elapsedMs) * 1000),
    p50Us: Math.round(latenciesMs[Math.floor(count * 0.5)]! * 1000),
    p99Us: Math.round(latenciesMs[Math.floor(count * 0.99)]! * 1000),
  };
}

async function pipelined(client: EchoClient, count: number): Promise<{ messagesPerSec: number }> {
  const payload = new Uint8Array(payloadBytes);
  let sent = 0;
  let received = 0;
  const startMs = performance.now();
  await new Promise<void>((resolve) => {
    client.onReply(() => {
      received++;
      if (received === count) return resolve();
      if (sent < count) {
        sent++;
        client.send(payload);
      }
    });
    for (; sent < Math.min(windowSize, count); sent++) client.send(payload);
  });
  return { messagesPerSec: Math.round((count / (performance.now() - startMs)) * 1000) };
}

// --- our transport: this process is node `client`, a child process is node `echo` -------------------

async function ours(config: Config, dataRoot: string): Promise<{ sequential: SequentialResult; pipelined: { messagesPerSec: number }; stop(): Promise<void> }> {
  const runtime: Runtime = await createRuntime({ nodeId: 'client', dataDir: join(dataRoot, 'client') });
  const echo = await new Promise<LaunchedNode>((resolve, reject) => {
    const launched = launchNode(
      { id: 'echo', program: 'bench-echo', dataDir: join(dataRoot, 'echo'), directory: runtime.directory, programModules: [thisFile] },
      {
        onListening: (address) => runtime.directory.set('echo', address),
        onUp: () => resolve(launched),
        onExit: (_c, _s, failure) => failure && reject(failure),
      },
    );
  });
  let handler: () => void = () => {};
  runtime.env.net.listen('echo-reply', () => handler());
  const client: EchoClient = { send: (p) => runtime.env.net.send('echo', 'echo', p), onReply: (h) => (handler = h) };
  await sequential(client, config.warmupRoundTrips);
  const seq = await sequential(client, config.sequentialRoundTrips);
  const pipe = await pipelined(client, config.pipelinedMessages);
  const stats = runtime.netStats();
  assert(stats.dropsQueueFull === 0 && stats.badFrames === 0, 'benchmark must not drop frames');
  return { sequential: seq, pipelined: pipe, stop: async () => { await echo.stop(); await runtime.close(); } };
}

// --- raw ws: a child process runs a bare ws echo server ----------------------------------------------

function runRawEchoServer(): void {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => process.send!({ port: (wss.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
}

async function raw(config: Config): Promise<{ sequential: SequentialResult; pipelined: { messagesPerSec: number }; stop(): Promise<void> }> {
  const child = fork(thisFile, ['--raw-echo'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise((resolve) => ws.once('open', resolve));
  let handler: () => void = () => {};
  ws.on('message', () => handler());
  const client: EchoClient = { send: (p) => ws.send(p, { binary: true }), onReply: (h) => (handler = h) };
  await sequential(client, config.warmupRoundTrips);
  const seq = await sequential(client, config.sequentialRoundTrips);
  const pipe = await pipelined(client, config.pipelinedMessages);
  return {
    sequential: seq,
    pipelined: pipe,
    stop: async () => {
      ws.terminate();
      child.kill('SIGTERM');
    },
  };
}

async function main(): Promise<void> {
  const isQuick = process.argv.includes('--quick');
  const config = isQuick ? quick : full;
  const dataRoot = mkdtempSync(join(tmpdir(), 'distribution-bench-'));
  try {
    const rawRounds: Measured[] = [];
    const oursRounds: Measured[] = [];
    for (let round = 0; round < config.rounds; round++) {
      const rawRun = await raw(config);
      await rawRun.stop();
      rawRounds.push(rawRun);
      const oursRun = await ours(config, join(dataRoot, `round-${round}`));
      await oursRun.stop();
      oursRounds.push(oursRun);
    }
    const rawResult = medianOf(rawRounds);
    const oursResult = medianOf(oursRounds);
    const ratios = {
      sequential: round2(oursResult.sequential.roundTripsPerSec / rawResult.sequential.roundTripsPerSec),
      pipelined: round2(oursResult.pipelined.messagesPerSec / rawResult.pipelined.messagesPerSec),
    };
    const result = {
      benchmark: 'transport',
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      payloadBytes,
      windowSize,
      config,
      rounds: { raw: rawRounds.map(strip), ours: oursRounds.map(strip) },
      raw: { sequential: rawResult.sequential, pipelined: rawResult.pipelined },
      ours: { sequential: oursResult.sequential, pipelined: oursResult.pipelined },
      ratios,
      targets: { sequentialRatioMin: 0.6, pipelinedMessagesPerSecMin: 75_000 },
      met: { sequential: ratios.sequential >= 0.6, pipelined: oursResult.pipelined.messagesPerSec >= 75_000 },
    };
    printTable(result);
    const resultsDir = join(dirname(thisFile), '..', '..', 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    // A quick run never overwrites the reference figures.
    const resultFile = join(resultsDir, isQuick ? 'transport-quick.json' : 'transport.json');
    writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`wrote ${resultFile}\n`);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

function printTable(r: {
  raw: { sequential: SequentialResult; pipelined: { messagesPerSec: number } };
  ours: { sequential: SequentialResult; pipelined: { messagesPerSec: number } };
  ratios: { sequential: number; pipelined: number };
}): void {
  const row = (name: string, s: SequentialResult, p: { messagesPerSec: number }): string =>
    `${name.padEnd(10)} ${String(s.roundTripsPerSec).padStart(12)} ${String(s.p50Us).padStart(9)} ${String(s.p99Us).padStart(9)} ${String(p.messagesPerSec).padStart(14)}`;
  process.stdout.write(`${'peer'.padEnd(10)} ${'seq rt/s'.padStart(12)} ${'p50 us'.padStart(9)} ${'p99 us'.padStart(9)} ${'pipelined/s'.padStart(14)}\n`);
  process.stdout.write(`${row('raw ws', r.raw.sequential, r.raw.pipelined)}\n${row('ours', r.ours.sequential, r.ours.pipelined)}\n`);
  process.stdout.write(`ratio ours/raw: sequential ${r.ratios.sequential}x, pipelined ${r.ratios.pipelined}x\n`);
}

interface Measured {
  sequential: SequentialResult;
  pipelined: { messagesPerSec: number };
}

function strip(m: Measured): Measured {
  return { sequential: m.sequential, pipelined: m.pipelined };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median of each figure across rounds (each figure on its own). */
function medianOf(rounds: readonly Measured[]): Measured {
  return {
    sequential: {
      roundTripsPerSec: median(rounds.map((r) => r.sequential.roundTripsPerSec)),
      p50Us: median(rounds.map((r) => r.sequential.p50Us)),
      p99Us: median(rounds.map((r) => r.sequential.p99Us)),
    },
    pipelined: { messagesPerSec: median(rounds.map((r) => r.pipelined.messagesPerSec)) },
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] === thisFile) {
  if (process.argv.includes('--raw-echo')) runRawEchoServer();
  else main().then(() => process.exit(0), (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
