/**
 * Placement quality of the kv placement core (src/protocols/kv/placement.ts) over 10 members and
 * 200,000 keys: worst/mean load and standard deviation per scheme, and the fraction of keys that move
 * when an 11th member joins or one of the 10 leaves, against the ideal 1/n (1/11 on join, 1/10 on leave).
 * Members are course NIDs of 10.0.0.i:7000; keys are getID('key-' + i).
 *
 * Targets: rendezvous worst/mean <= 1.02; consistent with 1,000 vnodes <= 1.05; movement within 1.5
 * points of ideal for consistent and rendezvous; naive hashing's movement shown for contrast.
 *
 *   npm run build && npm run bench:placement       # prints a table, writes bench/results/placement.json
 */
import { getID } from '../src/protocols/node/id.js';
import { loadOf, loadStats, movedCount, type Placement } from '../src/protocols/kv/placement.js';
import { printTable, writeResult } from './harness.js';

const membersCount = 10;
const keysCount = Number(process.env.BENCH_KEYS ?? 200_000);

const schemes: readonly { readonly label: string; readonly placement: Placement }[] = [
  { label: 'naive', placement: { scheme: 'naive' } },
  { label: 'consistent (plain ring)', placement: { scheme: 'consistent', vnodes: 0 } },
  { label: 'consistent, 100 vnodes', placement: { scheme: 'consistent', vnodes: 100 } },
  { label: 'consistent, 1,000 vnodes', placement: { scheme: 'consistent', vnodes: 1_000 } },
  { label: 'rendezvous', placement: { scheme: 'rendezvous' } },
];

const nid = (i: number): string => getID({ ip: `10.0.0.${i}`, port: 7000 });
const members = Array.from({ length: membersCount }, (_, i) => nid(i));
const joined = [...members, nid(membersCount)];
const left = members.slice(1);
const kids = Array.from({ length: keysCount }, (_, i) => getID(`key-${i}`));

const points = (fraction: number): string => (fraction * 100).toFixed(2);
const rows: Record<string, string>[] = [];
const results: Record<string, unknown>[] = [];
for (const { label, placement } of schemes) {
  const started = performance.now();
  const stats = loadStats(loadOf(placement, kids, members));
  const joinMoved = movedCount(placement, kids, members, joined) / keysCount;
  const leaveMoved = movedCount(placement, kids, members, left) / keysCount;
  const ms = performance.now() - started;
  rows.push({
    scheme: label, 'worst/mean': stats.worstOverMean.toFixed(4), stddev: stats.stddev.toFixed(1),
    'join moved %': points(joinMoved), 'ideal %': points(1 / (membersCount + 1)),
    'leave moved %': points(leaveMoved), 'ideal % ': points(1 / membersCount), ms: ms.toFixed(0),
  });
  results.push({ scheme: label, placement, ...stats, joinMovedFraction: joinMoved, leaveMovedFraction: leaveMoved, ms });
}
console.log(`placement over ${membersCount} members, ${keysCount.toLocaleString('en-US')} keys (mean ${keysCount / membersCount} per member)`);
printTable(rows);
console.log(`wrote ${writeResult('placement', { membersCount, keysCount, results })}`);
