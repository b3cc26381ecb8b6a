/** Shared helpers for protocol tests in the simulator: a cluster of `node` programs and a way to run one
 * callback-style operation to completion in virtual time. */
import { Simulation, type FaultPlan } from '../../src/sim/index.js';
import '../../src/protocols/groups/index.js';
import { getSID, type DistNode } from '../../src/protocols/node/index.js';
import type { GroupsLayer, NodeProgramArgs } from '../../src/protocols/groups/index.js';

/** Virtual time an operation may take before a test gives up (a bound on the wait, not a threshold). */
export const opBudgetMs = 30_000;

/** A service's methods as tests call them. */
export type Methods = Record<string, Function>;

export interface SimCluster {
  readonly sim: Simulation;
  layer(id: string): GroupsLayer;
  node(id: string): DistNode;
  /** `distribution.local[service]` on node `id`. */
  local(id: string, service: string): Methods;
  /** `distribution[gid][service]` on node `id` (undefined when the group is unknown there). */
  group(id: string, gid: string, service: string): Methods;
}

/** A simulated node's course address: its Env id as ip, port 0. */
export const simAddress = (id: string): { ip: string; port: number } => ({ ip: id, port: 0 });

/** A course group literal `{sid: node}` over simulated node ids. */
export const groupOf = (...ids: string[]): Record<string, { ip: string; port: number }> =>
  Object.fromEntries(ids.map((id) => [getSID(simAddress(id)), simAddress(id)]));

export function simCluster(ids: readonly string[], options: { seed?: number; plan?: FaultPlan; args?: (id: string) => NodeProgramArgs } = {}): SimCluster {
  const sim = new Simulation({ seed: options.seed ?? 1, ...(options.plan ? { plan: options.plan, nodeIds: ids } : {}) });
  for (const id of ids) sim.addNode(id, 'node', options.args?.(id) ?? {});
  const layer = (id: string): GroupsLayer => {
    const l = sim.inspect(id) as GroupsLayer | undefined;
    if (l === undefined) throw new Error(`node ${id} is down`);
    return l;
  };
  return {
    sim,
    layer,
    node: (id) => layer(id).node,
    local: (id, service) => layer(id).node.services.get(service) as Methods,
    group: (id, gid, service) => layer(id).servicesFor(gid)?.[service] as Methods,
  };
}

export type Outcome<T = unknown> = [Error | null, T];

/** Starts `start` as a simulator action now and runs virtual time until it calls back (once). */
export function settle<T = unknown>(sim: Simulation, start: (callback: (err: Error | null, value?: unknown) => void) => void, budgetMs = opBudgetMs): Outcome<T> {
  let outcome: Outcome<T> | undefined;
  let answers = 0;
  sim.at(sim.now, () =>
    start((err, value) => {
      answers++;
      outcome = [err, value as T];
    }),
  );
  const deadline = sim.now + budgetMs;
  while (outcome === undefined && sim.now < deadline && sim.halt === undefined) sim.runUntil(sim.now + 1);
  if (sim.halt !== undefined) throw new Error(`simulation halted: ${JSON.stringify(sim.halt)}`);
  if (outcome === undefined) throw new Error(`no answer within ${budgetMs} virtual ms`);
  // Let any extra answer surface before checking there was only one.
  sim.runUntil(sim.now + 50);
  if (answers !== 1) throw new Error(`answered ${answers} times`);
  return outcome;
}

export function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}
