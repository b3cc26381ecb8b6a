/**
 * The machine's floor for a call between two processes: raw TCP ping-pong on loopback (Node `net`, no
 * serializer, no framing), 100-byte messages, one at a time. What any implementation of the course's
 * sequential M2 workload pays per call on this machine, whatever its code; and what busy polling
 * (src/runtime/busy-poll.ts, the project's own BusyPoller) buys back:
 *
 *   asleep         both processes sleep in epoll_wait between messages (what Node does by default)
 *   caller polls   the caller's loop keeps turning while its answer is owed
 *   both poll      the answering process also polls for a while after answering
 *   one CPU        both asleep, both pinned to CPU 0 with `taskset` (no cross-CPU wake-up at all)
 *
 * Each case runs in fresh processes: a pair runner (this file with --pair MODE) forks its echo server.
 * Latencies are over the second half of `roundTrips` (the first half warms up).
 *
 * Run: npm run build && npm run bench:wakeup      writes bench/results/wakeup.json.
 */
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BusyPoller } from '../src/runtime/busy-poll.js';
import { printTable, writeResult } from './harness.js';

const roundTrips = 20_000;
const messageBytes = 100;
const pairRunMsMax = 120_000;
const modes = ['asleep', 'caller polls', 'both poll', 'one CPU'] as const;
type Mode = (typeof modes)[number];
interface PairResult { p50Us: number; p90Us: number; meanUs: number }

const selfPath = fileURLToPath(import.meta.url);
const pollWindows = { callWindowUs: 1_000, answerWindowUs: 100 };

function echoServer(poll: boolean): void {
  const poller = new BusyPoller(poll ? pollWindows : { callWindowUs: 0, answerWindowUs: 0 });
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (data) => {
      socket.write(data);
      poller.sentAnswer();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
}

function pingPong(socket: Socket, poller: BusyPoller): Promise<PairResult> {
  return new Promise((resolve) => {
    const message = Buffer.alloc(messageBytes, 1);
    const latenciesUs: number[] = [];
    let sentNs = 0n;
    const send = (): void => {
      sentNs = process.hrtime.bigint();
      socket.write(message);
      poller.sentCall();
    };
    socket.on('data', () => {
      poller.received(1);
      latenciesUs.push(Number(process.hrtime.bigint() - sentNs) / 1000);
      if (latenciesUs.length < roundTrips) return send();
      const measured = latenciesUs.slice(roundTrips / 2).sort((a, b) => a - b);
      const at = (q: number): number => measured[Math.floor(measured.length * q)] as number;
      resolve({ p50Us: at(0.5), p90Us: at(0.9), meanUs: measured.reduce((a, b) => a + b, 0) / measured.length });
    });
    send();
  });
}

async function runPair(mode: Mode): Promise<void> {
  const child = fork(selfPath, ['--echo', mode === 'both poll' ? 'poll' : 'sleep'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const socket = createConnection({ port, host: '127.0.0.1' });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  const callerPolls = mode === 'caller polls' || mode === 'both poll';
  const result = await pingPong(socket, new BusyPoller(callerPolls ? pollWindows : { callWindowUs: 0, answerWindowUs: 0 }));
  socket.destroy();
  child.disconnect();
  console.log(JSON.stringify(result));
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

function main(): void {
  const rows: Record<string, string>[] = [];
  const result: Record<string, PairResult | 'skipped'> = {};
  for (const mode of modes) {
    if (mode === 'one CPU' && !hasTaskset()) {
      result[mode] = 'skipped';
      continue;
    }
    const args = [selfPath, '--pair', mode];
    const [command, commandArgs] = mode === 'one CPU' ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
    const out = execFileSync(command as string, commandArgs as string[], { encoding: 'utf8', timeout: pairRunMsMax });
    const pair = JSON.parse(out.trim().split('\n').pop() as string) as PairResult;
    result[mode] = pair;
    rows.push({ case: mode, p50: `${pair.p50Us.toFixed(1)} µs`, p90: `${pair.p90Us.toFixed(1)} µs`, mean: `${pair.meanUs.toFixed(1)} µs`, 'calls/s (1/mean)': (1e6 / pair.meanUs).toFixed(0) });
  }
  console.log(`\nraw TCP ping-pong between two processes on loopback, ${messageBytes}-byte messages, last ${roundTrips / 2} of ${roundTrips} round trips`);
  printTable(rows);
  console.log(`\nwrote ${writeResult('wakeup', { roundTrips, messageBytes, pollWindows, result })}`);
}

const flag = process.argv[2];
if (flag === '--echo') echoServer(process.argv[3] === 'poll');
else if (flag === '--pair') void runPair(process.argv[3] as Mode);
else main();
