/** Shared helpers for MapReduce tests: a simulated cluster of `mr` programs with seeded input. */
import { Simulation, type FaultPlan } from '../../../src/sim/index.js';
import { execJob, type MrNodeHandle, type MrOptions } from '../../../src/protocols/mapreduce/index.js';
import '../../../src/protocols/mapreduce/program.js';
import { settle, type Outcome } from '../helpers.js';

export const gid = 'docs';

/** Nodes n1..nN in group `gid` (and `all`), each holding the entries `holders(key)` names. */
export function mrCluster(count: number, input: Record<string, unknown>, options: { seed?: number; plan?: FaultPlan; replicas?: number; extraGroups?: string[] } = {}): Simulation {
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const sim = new Simulation({ seed: options.seed ?? 1, ...(options.plan ? { plan: options.plan, nodeIds: ids } : {}) });
  const group = Object.fromEntries(ids.map((id) => [sidKey(id), { ip: id, port: 0 }]));
  const groups = [gid, ...(options.extraGroups ?? [])].map((g) => ({ config: g, group }));
  const keys = Object.keys(input).sort();
  for (const [i, id] of ids.entries()) {
    const seed = keys.filter((_, k) => holds(k, i, count, options.replicas ?? 1)).map((k) => [gid, k, input[k]] as const);
    sim.addNode(id, 'mr', { groups, seed, antiEntropyMs: 0, callTimeoutMs: 500 });
  }
  return sim;
}

function holds(keyIndex: number, nodeIndex: number, count: number, replicas: number): boolean {
  for (let r = 0; r < replicas; r++) if ((keyIndex + r) % count === nodeIndex) return true;
  return false;
}

import { nodeIdOf, sidOf } from '../../../src/protocols/node/index.js';
const sidKey = (id: string): string => sidOf(id);

export function handle(sim: Simulation, id: string): MrNodeHandle {
  const h = sim.inspect(id) as MrNodeHandle | undefined;
  if (h === undefined) throw new Error(`${id} is down`);
  return h;
}

/** Runs a job from `from` to completion in virtual time. */
export function runJob(sim: Simulation, spec: unknown, from = 'n1', options: Partial<MrOptions> = {}, budgetMs = 120_000): Outcome<Record<string, unknown>[]> {
  const members = handle(sim, from).layer.table.members(gid).map(([, address]) => nodeIdOf(address));
  return settle(sim, (cb) => execJob(handle(sim, from).node, gid, members, spec, cb, options), budgetMs);
}

/** Results as one sorted object, for comparison. */
export function asObject(results: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of results) for (const k of Object.keys(r)) out[k] = r[k];
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
