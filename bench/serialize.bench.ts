/**
 * Serializer benchmark: our two forms against JSON, v8.serialize, msgpackr and the course's reference
 * implementation (@brown-ds/distribution util.serialize/deserialize), same process, same run.
 *
 *   npm run bench:serialize            (BENCH_MEASURE_MS=1000 for steadier figures;
 *   npm run bench:serialize -- rpc     only the workloads whose name contains `rpc`)
 *
 * Prints encode, decode and round-trip rates per workload and peer, and ratios of ours to each peer;
 * writes bench/results/serialize.json.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { decode, deserialize, encode, serialize } from '../src/serialize/index.js';
import { formatRate, measureInterleaved, printTable, ratio, writeResult } from './harness.js';

const require = createRequire(import.meta.url);
// The reference indexes Node's modules when it loads; load it before anything else grows them.
const reference = require('@brown-ds/distribution/distribution/util/util.js') as { serialize(v: unknown): string; deserialize(s: string): unknown };
const { Packr } = require('msgpackr') as typeof import('msgpackr');

interface Codec {
  readonly name: string;
  readonly encode: (value: unknown) => unknown;
  readonly decode: (encoded: any) => unknown;
  /** Whether the codec represents the workload faithfully (cycles, functions, …). */
  readonly supports: (workload: Workload) => boolean;
}

interface Workload {
  readonly name: string;
  readonly value: unknown;
  readonly cyclic: boolean;
  readonly functions: boolean;
}

const plainPackr = new Packr({ useRecords: false });
const clonePackr = new Packr({ useRecords: false, structuredClone: true });

const codecs: Codec[] = [
  { name: 'ours (binary)', encode, decode, supports: () => true },
  { name: 'ours (text)', encode: serialize, decode: deserialize, supports: () => true },
  { name: 'JSON', encode: JSON.stringify, decode: JSON.parse, supports: (w) => !w.cyclic && !w.functions },
  { name: 'v8.serialize', encode: v8.serialize, decode: v8.deserialize, supports: (w) => !w.functions },
  { name: 'msgpackr', encode: (v) => plainPackr.pack(v), decode: (b) => plainPackr.unpack(b), supports: (w) => !w.cyclic && !w.functions },
  { name: 'msgpackr (structuredClone)', encode: (v) => clonePackr.pack(v), decode: (b) => clonePackr.unpack(b), supports: (w) => w.cyclic && !w.functions && roundTrips(clonePackr, w) },
  { name: 'course reference', encode: reference.serialize, decode: reference.deserialize, supports: (w) => !w.cyclic || referenceRoundTripsGraphs() },
];

/** msgpackr's structured clone throws on some cyclic graphs (seen: `targetProperties.entries is not a
 * function`); a peer that cannot round-trip a workload is reported as not supporting it. */
function roundTrips(packr: InstanceType<typeof Packr>, workload: Workload): boolean {
  try {
    packr.unpack(packr.pack(workload.value));
    return true;
  } catch (error) {
    console.log(`(msgpackr structuredClone fails on '${workload.name}': ${(error as Error).message})`);
    return false;
  }
}

/** The reference's round trip of a small cyclic graph (seen: `TypeError: … is not iterable` in its
 * reference resolution). It is tried on 50 nodes because its serializer re-walks the graph per object
 * and a 500-node graph takes minutes. */
function referenceRoundTripsGraphs(): boolean {
  try {
    const back = reference.deserialize(reference.serialize(cyclicGraph(50))) as Array<{ edges: unknown[] }>;
    return back[0]?.edges[0] === back[1];
  } catch (error) {
    console.log(`(the course reference fails on cyclic graphs: ${(error as Error).message})`);
    return false;
  }
}

function cyclicGraph(nodes: number): Array<{ id: number; edges: unknown[] }> {
  const graph = Array.from({ length: nodes }, (_, i) => ({ id: i, edges: [] as unknown[] }));
  graph.forEach((node, i) => node.edges.push(graph[(i * 7 + 1) % nodes], graph[(i * 13 + 5) % nodes], graph[(i + nodes / 2) % nodes]));
  return graph;
}

function workloads(): Workload[] {
  const rpc = { id: 'f3a9c1e07b2d', from: { ip: '127.0.0.1', port: 7001 }, service: 'store', method: 'put', gid: 'all', args: [{ name: 'Ada', year: 1843 }, 'user:42'] };
  const records = Array.from({ length: 1_000 }, (_, i) => ({ id: i, name: `user${i}`, email: `user${i}@example.org`, score: i * 1.25, active: i % 3 === 0 }));
  let deep: Record<string, unknown> = { leaf: true };
  for (let level = 0; level < 500; level++) deep = { level, label: `node-${level}`, child: deep };
  const graph = cyclicGraph(500);
  const functions: Record<string, Function> = {};
  for (let i = 0; i < 100; i++) {
    functions[`arrow${i}`] = (a: number, b: number) => a * b + i;
    functions[`classic${i}`] = function classic(x: number) { return x + 1; };
  }
  return [
    { name: 'rpc message', value: rpc, cyclic: false, functions: false },
    { name: '1,000 five-property objects', value: records, cyclic: false, functions: false },
    { name: 'deep tree (500 levels)', value: deep, cyclic: false, functions: false },
    { name: 'cyclic graph (500 nodes, 1,500 edges)', value: graph, cyclic: true, functions: false },
    { name: 'function-heavy object (200 functions)', value: { functions, meta: { count: 200 } }, cyclic: false, functions: true },
  ];
}

interface Figures { encode: number; decode: number; roundTrip: number; bytes: number }

function measureWorkload(workload: Workload): Record<string, Figures> {
  const chosen = codecs.filter((codec) => codec.supports(workload));
  const encoded = chosen.map((codec) => codec.encode(workload.value));
  const rate = (ops: Array<() => unknown>): number[] => measureInterleaved(ops).map((r) => r.opsPerSec);
  const encodeRates = rate(chosen.map((codec) => () => codec.encode(workload.value)));
  const decodeRates = rate(chosen.map((codec, i) => () => codec.decode(encoded[i])));
  const tripRates = rate(chosen.map((codec) => () => codec.decode(codec.encode(workload.value))));
  const figures: Record<string, Figures> = {};
  chosen.forEach((codec, i) => {
    const bytes = encoded[i];
    figures[codec.name] = {
      encode: encodeRates[i] as number,
      decode: decodeRates[i] as number,
      roundTrip: tripRates[i] as number,
      bytes: typeof bytes === 'string' ? Buffer.byteLength(bytes) : (bytes as Uint8Array).byteLength,
    };
  });
  return figures;
}

function main(): void {
  const results: Record<string, Record<string, Figures>> = {};
  const only = process.argv[2]; // optional: run only workloads whose name contains this
  for (const workload of workloads().filter((w) => only === undefined || w.name.includes(only))) {
    const figures = measureWorkload(workload);
    results[workload.name] = figures;
    report(workload.name, figures);
  }
  console.log(`\nwrote ${writeResult(only === undefined ? 'serialize' : `serialize-${only.replace(/\W+/g, '-')}`, results)}`);
}

function report(workload: string, figures: Record<string, Figures>): void {
  const ours = figures['ours (binary)'] as Figures;
  const oursText = figures['ours (text)'] as Figures;
  console.log(`\n== ${workload}`);
  printTable(Object.entries(figures).map(([name, f]) => ({
    codec: name,
    size: `${f.bytes} B`,
    encode: formatRate(f.encode),
    decode: formatRate(f.decode),
    'round trip': formatRate(f.roundTrip),
    'binary vs it': name.startsWith('ours') ? '' : ratio(ours.roundTrip, f.roundTrip),
    'text vs it': name.startsWith('ours') ? '' : ratio(oursText.roundTrip, f.roundTrip),
  })));
}

main();
