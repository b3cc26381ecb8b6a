/**
 * Simulator benchmark: events per wall-clock second and simulated-time / wall-time ratio.
 *
 * - `pingpong` (the plain synchronous workload: tokens forwarded between random nodes, no disk, no
 *   serializer) for 5 and 100 nodes, trace hashed but not written: the simulator's own cost per event.
 * - the same with the trace written to a file, to show what NDJSON output costs.
 * - `broadcast` under heavy faults for 5 nodes: a real protocol with disk, timers, the serializer and
 *   per-step invariant checks (5 nodes heavy; 25 nodes light: all-to-all gossip grows as nodes²).
 * Target (issue 3): at least 500,000 events/s for the plain synchronous workload.
 *
 *   npm run build && node dist/bench/sim.bench.js      # prints a table, writes bench/results/sim.json
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig, runScenario, type RunConfig } from '../src/sim/index.js';

interface Case {
  readonly name: string;
  readonly config: RunConfig;
  readonly writeTrace: boolean;
}

interface Figure {
  readonly name: string;
  readonly nodes: number;
  readonly events: number;
  readonly simTimeMs: number;
  readonly wallMs: number;
  readonly eventsPerSec: number;
  readonly simWallRatio: number;
  readonly traceHash: string;
}

const targetEventsPerSec = 500_000;
/** Best of this many timed repetitions (after one warm-up run), to damp noise from the machine. */
const repetitions = 3;

const cases: Case[] = [
  { name: 'pingpong-5', config: resolveConfig({ seed: 1, workload: 'pingpong', nodes: 5, ops: 100, durationMs: 10_000 }), writeTrace: false },
  { name: 'pingpong-100', config: resolveConfig({ seed: 1, workload: 'pingpong', nodes: 100, ops: 5, durationMs: 10_000 }), writeTrace: false },
  { name: 'pingpong-5-trace-file', config: resolveConfig({ seed: 1, workload: 'pingpong', nodes: 5, ops: 100, durationMs: 10_000 }), writeTrace: true },
  { name: 'broadcast-5-heavy', config: resolveConfig({ seed: 1, workload: 'broadcast', faults: 'heavy', nodes: 5, ops: 1000, durationMs: 60_000 }), writeTrace: false },
  { name: 'broadcast-25-light', config: resolveConfig({ seed: 1, workload: 'broadcast', faults: 'light', nodes: 25, ops: 200, durationMs: 10_000 }), writeTrace: false },
];

function measure(c: Case): Figure {
  const tmp = path.join(os.tmpdir(), `sim-bench-${process.pid}.ndjson`);
  const options = c.writeTrace ? { traceFile: tmp } : {};
  runScenario(c.config, options); // warm-up: JIT and caches
  let best = runScenario(c.config, options);
  for (let i = 1; i < repetitions; i++) {
    const run = runScenario(c.config, options);
    if (run.wallMs < best.wallMs) best = run;
  }
  if (c.writeTrace) fs.rmSync(tmp, { force: true });
  const wallMs = Math.max(1, best.wallMs);
  return {
    name: c.name,
    nodes: c.config.nodes,
    events: best.events,
    simTimeMs: best.simTimeMs,
    wallMs,
    eventsPerSec: Math.round((best.events / wallMs) * 1000),
    simWallRatio: Math.round((best.simTimeMs / wallMs) * 10) / 10,
    traceHash: best.traceHash,
  };
}

function main(): void {
  const figures = cases.map(measure);
  const n = (x: number): string => x.toLocaleString('en-US');
  console.log(`${'case'.padEnd(24)}${'nodes'.padStart(6)}${'events'.padStart(12)}${'wall ms'.padStart(10)}${'events/s'.padStart(12)}${'sim/wall'.padStart(10)}`);
  for (const f of figures) {
    console.log(`${f.name.padEnd(24)}${String(f.nodes).padStart(6)}${n(f.events).padStart(12)}${n(f.wallMs).padStart(10)}${n(f.eventsPerSec).padStart(12)}${`${f.simWallRatio}x`.padStart(10)}`);
  }
  const plain = figures.filter((f) => f.name.startsWith('pingpong') && !f.name.endsWith('trace-file'));
  const meetsTarget = plain.every((f) => f.eventsPerSec >= targetEventsPerSec);
  console.log(`target: >= ${n(targetEventsPerSec)} events/s for the plain synchronous workload: ${meetsTarget ? 'met' : 'NOT met'}`);
  const result = {
    benchmark: 'sim',
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    targetEventsPerSec,
    meetsTarget,
    figures,
  };
  const out = path.join('bench', 'results', 'sim.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main();
