/**
 * Failure detection in the simulator: the `membership` workload and its checker (src/sim/workloads/
 * membership.ts), run over many seeds with two plans:
 *
 * 1. detection: a quiet network (1-20 ms latency, no loss); node n7 crashes at 10 s and stays down.
 *    Detection time = crash -> the last live node holds n7 dead (the checker's `detectionMsMean`, one
 *    crash per run). SWIM's expectation (§3.1, §4.2): about e/(e-1) ~ 1.58 protocol periods until the
 *    first failed probe, plus the rest of that period, plus the suspicion timeout, plus spreading.
 * 2. accuracy: 10% loss on every link (1-50 ms latency), no crashes, 5 simulated minutes per seed. A
 *    "false death" is a node declared dead at an incarnation it is running (the checker's
 *    `membership.accuracy`, enforced on such plans). Target: none.
 *
 * 3. slow node: n3 reads its input `lagMs` late (a simulator slow-node fault: messages to it arrive late,
 *    its timers keep time) for 5 simulated minutes, no loss; with Lifeguard's local health multiplier
 *    (localHealthMax 8, the default) and without it (0). Counted: suspicions n3 raised itself (all false:
 *    everyone else is healthy), suspicions of n3 raised by others (n3 is late to answer), suspicion
 *    records seen by all nodes, refutations, false deaths.
 *
 * 4. pause: n7 stops running at 10 s for 1-20 s (a simulator pause fault: a stop-the-world GC pause or
 *    SIGSTOP; everything due to it waits), quiet network otherwise. Counted: seeds in which some node
 *    declared n7 dead (it refutes and rejoins when it resumes), suspicions, refutations. A pause shorter
 *    than the suspicion timeout should cost suspicions only.
 *
 * Both for the protocol's defaults (config.ts) and for the faster timing the simulator workload uses.
 *
 *   npm run build && node dist/bench/failure-detection.bench.js   # table, bench/results/failure-detection.json
 *   ... failure-detection.bench.js --long   # also 30 nodes x 5 min x 30 seeds at 10% loss (minutes of CPU)
 */
import { membershipDefaults } from '../src/protocols/membership/index.js';
import { quietPlan, registerWorkload, resolveConfig, runScenario, type FaultPlan } from '../src/sim/index.js';
import { membershipSimArgs, membershipWorkload } from '../src/sim/workloads/membership.js';
import { printTable, writeResult } from './harness.js';

const nodes = 20;
const crashAtMs = 10_000;
const detectionSeeds = 100;
const accuracySeeds = 10;
const accuracyDurationMs = 300_000;
const longRun = process.argv.includes('--long');
const longNodes = 30;
const longSeedFirst = 101;
const longSeedsCount = 30;

const configs = [
  { name: 'defaults', workload: 'membership-bench-defaults', args: { ...membershipDefaults } },
  { name: 'sim workload', workload: 'membership', args: { ...membershipDefaults, ...membershipSimArgs } },
] as const;

registerWorkload(membershipWorkload({ name: 'membership-bench-defaults', description: 'membership with the protocol defaults (benchmark)', args: membershipDefaults }));
for (const c of configs) {
  registerWorkload(membershipWorkload({ name: `${c.workload}-no-health`, description: 'membership without local health (benchmark)', args: { ...c.args, localHealthMax: 0 } }));
}

const slowSeeds = 5;
/** n3's input lag, in probe periods of the config: past one period its probes fail (the ack comes too late). */
const slowLagPeriods = [1.5, 3] as const;

const detectionPlan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 20, crashes: [{ atMs: crashAtMs, node: 'n7', downMs: 590_000 }] };
const lossyPlan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 50, lossChance: 0.1 };

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

function detection(workload: string): { detected: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const times: number[] = [];
  for (let seed = 1; seed <= detectionSeeds; seed++) {
    const r = runScenario(resolveConfig({ seed, workload, nodes, plan: detectionPlan, durationMs: crashAtMs + 30_000 }));
    if (r.result !== 'ok') throw new Error(`${workload} seed ${seed}: ${r.result} ${r.reason}`);
    if (r.stats.crashesDetected === 1) times.push(r.stats.detectionMsMean as number);
  }
  times.sort((a, b) => a - b);
  return {
    detected: times.length,
    meanMs: Math.round(times.reduce((s, x) => s + x, 0) / Math.max(1, times.length)),
    p50Ms: percentile(times, 0.5),
    p99Ms: percentile(times, 0.99),
    maxMs: times.at(-1) as number,
  };
}

type AccuracyTotals = { falseDeaths: number; failedRuns: number; suspicions: number; refutations: number; lossFired: number };

function accuracy(workload: string, nodesCount = nodes, seeds: readonly number[] = range(1, accuracySeeds)): AccuracyTotals {
  const totals = { falseDeaths: 0, failedRuns: 0, suspicions: 0, refutations: 0, lossFired: 0 };
  for (const seed of seeds) {
    const r = runScenario(resolveConfig({ seed, workload, nodes: nodesCount, plan: lossyPlan, durationMs: accuracyDurationMs }));
    totals.falseDeaths += r.stats.falseDeaths as number;
    totals.failedRuns += r.result === 'ok' ? 0 : 1;
    totals.suspicions += r.stats.suspicions as number;
    totals.refutations += r.stats.refutations as number;
    totals.lossFired += r.faultsInjected.loss;
  }
  return totals;
}

type SlowTotals = { bySlow: number; ofSlow: number; records: number; refutations: number; falseDeaths: number; failedRuns: number };

function slowNode(workload: string, lagMs: number): SlowTotals {
  const plan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 20, slowNodes: [{ atMs: 5_000, durationMs: accuracyDurationMs - 5_000, node: 'n3', lagMs }] };
  const totals = { bySlow: 0, ofSlow: 0, records: 0, refutations: 0, falseDeaths: 0, failedRuns: 0 };
  for (const seed of range(1, slowSeeds)) {
    const r = runScenario(resolveConfig({ seed, workload, nodes, plan, durationMs: accuracyDurationMs }));
    totals.bySlow += r.stats.suspicionsRaisedBySlow as number;
    totals.ofSlow += r.stats.suspicionsRaisedOfSlow as number;
    totals.records += r.stats.suspicions as number;
    totals.refutations += r.stats.refutations as number;
    totals.falseDeaths += r.stats.falseDeaths as number;
    totals.failedRuns += r.result === 'ok' ? 0 : 1;
  }
  return totals;
}

function slowNodeTable(): unknown[] {
  const rows: Record<string, string>[] = [];
  const figures = [];
  for (const c of configs) {
    for (const periods of slowLagPeriods) {
      const lagMs = periods * c.args.probeIntervalMs;
      for (const [health, workload] of [['on (8)', c.workload], ['off', `${c.workload}-no-health`]] as const) {
        const t = slowNode(workload, lagMs);
        figures.push({ config: c.name, lagMs, localHealth: health, seeds: slowSeeds, ...t });
        rows.push({
          config: c.name, 'n3 lag ms': String(lagMs), 'local health': health,
          'raised by n3 (false)': String(t.bySlow), 'raised of n3': String(t.ofSlow),
          'suspicion records': String(t.records), refutations: String(t.refutations), 'false deaths': String(t.falseDeaths),
        });
      }
    }
  }
  console.log(`\nslow node: ${nodes} nodes, n3's input ${slowLagPeriods.join(' or ')} probe periods late for ${(accuracyDurationMs - 5_000) / 1000} s, no loss, ${slowSeeds} seeds each`);
  printTable(rows);
  return figures;
}

const pauseSeeds = 10;
const pausesMs = [1_000, 3_000, 6_000, 12_000, 20_000] as const;

function pauseTable(): unknown[] {
  const rows: Record<string, string>[] = [];
  const figures = [];
  for (const c of configs) {
    for (const pauseMs of pausesMs) {
      const plan: FaultPlan = { ...quietPlan(), latencyMsMin: 1, latencyMsMax: 20, pauses: [{ atMs: crashAtMs, durationMs: pauseMs, node: 'n7' }] };
      const totals = { declaredDead: 0, suspicions: 0, refutations: 0, failedRuns: 0 };
      for (const seed of range(1, pauseSeeds)) {
        const r = runScenario(resolveConfig({ seed, workload: c.workload, nodes, plan, durationMs: crashAtMs + pauseMs + 30_000 }));
        totals.declaredDead += (r.stats.falseDeaths as number) > 0 ? 1 : 0;
        totals.suspicions += r.stats.suspicions as number;
        totals.refutations += r.stats.refutations as number;
        totals.failedRuns += r.result === 'ok' ? 0 : 1;
      }
      figures.push({ config: c.name, pauseMs, seeds: pauseSeeds, ...totals });
      rows.push({
        config: c.name, 'suspicion ms (min)': String(c.args.suspicionTimeoutMs), 'n7 paused ms': String(pauseMs),
        'declared dead (seeds)': `${totals.declaredDead}/${pauseSeeds}`, suspicions: String(totals.suspicions),
        refutations: String(totals.refutations), 'runs not ok': String(totals.failedRuns),
      });
    }
  }
  console.log(`\npause: ${nodes} nodes, n7 stops running at ${crashAtMs} ms, quiet network, ${pauseSeeds} seeds each`);
  printTable(rows);
  return figures;
}

function main(): void {
  const rows: Record<string, string>[] = [];
  const figures = [];
  for (const c of configs) {
    const d = detection(c.workload);
    const a = accuracy(c.workload);
    const expectedMs = Math.round((Math.E / (Math.E - 1)) * c.args.probeIntervalMs + c.args.suspicionTimeoutMs);
    figures.push({ config: c.name, params: c.args, nodes, detection: { seeds: detectionSeeds, expectedMs, ...d }, accuracy: { seeds: accuracySeeds, simulatedMsPerSeed: accuracyDurationMs, lossChance: lossyPlan.lossChance, ...a } });
    rows.push({
      config: c.name,
      'probe/ack/suspicion ms': `${c.args.probeIntervalMs}/${c.args.ackTimeoutMs}/${c.args.suspicionTimeoutMs}`,
      k: String(c.args.indirectProbes),
      detected: `${d.detected}/${detectionSeeds}`,
      'detect mean ms': String(d.meanMs),
      'p50 ms': String(d.p50Ms),
      'p99 ms': String(d.p99Ms),
      'max ms': String(d.maxMs),
      '~1.58T+S ms': String(expectedMs),
      'false deaths @10% loss': `${a.falseDeaths} (${accuracySeeds}x${accuracyDurationMs / 60_000} min)`,
      suspicions: String(a.suspicions),
      refutations: String(a.refutations),
      'packets lost': String(a.lossFired),
    });
  }
  console.log(`failure detection: ${nodes} nodes; crash of n7 at ${crashAtMs} ms, latency 1-20 ms, ${detectionSeeds} seeds; accuracy at 10% loss, latency 1-50 ms, ${accuracySeeds} seeds`);
  for (const c of configs) console.log(`  ${c.name}: ${JSON.stringify(c.args)}`);
  printTable(rows);
  const meetsTarget = figures.every((f) => f.accuracy.falseDeaths === 0 && f.detection.detected === detectionSeeds);
  console.log(`target: every crash detected, no false deaths at 10% loss: ${meetsTarget ? 'met' : 'NOT met'}`);
  const slow = slowNodeTable();
  const pauses = pauseTable();
  const long = longRun ? longAccuracy() : undefined;
  console.log(`wrote ${writeResult('failure-detection', { meetsTarget, figures, slow, pauses, ...(long === undefined ? {} : { long }) })}`);
}

/** `--long`: the sweep that still found a false death before the dynamic suspicion timeout (30 nodes,
 * 5 simulated minutes per seed, seeds 101-130, sim-workload timing, 10% loss). Minutes of CPU. */
function longAccuracy(): AccuracyTotals & { nodes: number; seeds: string } {
  const totals = accuracy('membership', longNodes, range(longSeedFirst, longSeedsCount));
  console.log(`long sweep: ${longNodes} nodes x ${accuracyDurationMs / 60_000} min x seeds ${longSeedFirst}-${longSeedFirst + longSeedsCount - 1}, 10% loss: ` +
    `${totals.falseDeaths} false deaths in ${totals.suspicions} suspicions (${totals.refutations} refutations, ${totals.failedRuns} failed runs)`);
  return { ...totals, nodes: longNodes, seeds: `${longSeedFirst}-${longSeedFirst + longSeedsCount - 1}` };
}

main();
