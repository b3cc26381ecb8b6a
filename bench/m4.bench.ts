/**
 * The course's M4 workload against its reference implementation (npm `@brown-ds/distribution`), in one
 * run: 1,000 five-property objects put, then got, one after another, through `distribution.m4.mem` and
 * `distribution.m4.store` of a 3-node group (this node plus two it spawned). Each implementation runs in
 * processes of its own (bench/m4-driver.cjs), in an empty working directory; rounds alternate.
 *
 * Run: npm run build && node dist/bench/m4.bench.js      writes bench/results/m4.json. Target: >= 10x.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, ratio, writeResult } from './harness.js';

const repoRoot = join(fileURLToPath(import.meta.url), '..', '..', '..');
const objectsCount = 1_000;
const rounds = 3;
const driverRunMsMax = 300_000;

type Timings = Record<'mem' | 'store', { putMs: number; getMs: number }>;

function runDriver(which: 'ours' | 'reference', basePort: number): Timings {
  const cwd = mkdtempSync(join(tmpdir(), `distribution-bench-m4-${which}-`));
  try {
    const out = execFileSync(process.execPath, [join(repoRoot, 'bench', 'm4-driver.cjs'), which, String(basePort)], { cwd, timeout: driverRunMsMax, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop() as string) as Timings;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function main(): void {
  const samples: Record<string, Timings[]> = { ours: [], reference: [] };
  for (let round = 0; round < rounds; round++) {
    samples['reference']!.push(runDriver('reference', 21_000 + round * 10));
    samples['ours']!.push(runDriver('ours', 21_500 + round * 10));
  }
  const figure = (who: string, service: 'mem' | 'store', op: 'putMs' | 'getMs'): number => median(samples[who]!.map((t) => t[service][op]));
  const rows: Record<string, string>[] = [];
  const result: Record<string, unknown> = {};
  for (const service of ['mem', 'store'] as const) {
    for (const op of ['putMs', 'getMs'] as const) {
      const ours = (objectsCount / figure('ours', service, op)) * 1000;
      const reference = (objectsCount / figure('reference', service, op)) * 1000;
      result[`${service}.${op.slice(0, 3)}`] = { oursOpsPerSec: ours, referenceOpsPerSec: reference };
      rows.push({
        op: `${service}.${op.slice(0, 3)}`, reference: `${reference.toFixed(0)} /s (${(1000 / reference).toFixed(2)} ms/op)`,
        ours: `${ours.toFixed(0)} /s (${(1000 / ours).toFixed(2)} ms/op)`, 'ours/reference': ratio(ours, reference),
      });
    }
  }
  console.log(`\nM4: ${objectsCount} five-property objects on a 3-node group, one call at a time, median of ${rounds} rounds`);
  printTable(rows);
  console.log(`\nwrote ${writeResult('m4', { objectsCount, rounds, result })}`);
}

main();
