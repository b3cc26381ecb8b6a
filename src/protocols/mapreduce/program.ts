/**
 * The `mr` program: a `node` program (which runs the `mr` worker, service.ts) that also seeds its store
 * from its args, for the simulator workloads, tests and benchmarks. `inspect()` gives the layer, node,
 * worker and engines. With `membership` args it also runs SWIM membership (membership/) as the failure
 * detector of the jobs it coordinates: a member declared dead fails its attempts and moves its
 * partitions at once (`job.nodeDown`), instead of after deadlines.
 */
import type { Env, NodeProgram } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { registerProgram } from '../../lib/programs.js';
import { createNodeProgram, type GroupsLayer, type NodeProgramArgs } from '../groups/index.js';
import { createMembership, parseMembershipArgs, type Membership } from '../membership/index.js';
import type { KvEngine } from '../kv/engine.js';
import type { DistNode } from '../node/index.js';
import type { EngineName, KvAccess } from './access.js';
import { installLayerWorker, useFailureDetector } from './service.js';
import type { MrWorker } from './worker.js';

export const mrProgramName = 'mr';

export interface MrProgramArgs extends NodeProgramArgs {
  /** Input seeded into this node's store at boot when missing: [gid, key, value][] (tests, sim). */
  readonly seed?: readonly (readonly [string, string, unknown])[];
  /** Membership args (`seeds` and the membership program's timings): run it as the jobs' failure detector. */
  readonly membership?: Record<string, unknown>;
}

export interface MrNodeHandle {
  readonly layer: GroupsLayer;
  readonly node: DistNode;
  readonly worker: MrWorker;
  readonly engines: Readonly<Record<EngineName, KvEngine>>;
  readonly membership: Membership | undefined;
}

/** A `node` program plus local engines (mem; store on the Env disk) and the `mr` worker. */
export function createMrNode(env: Env, args: unknown): NodeProgram {
  const program = createNodeProgram(env, args);
  const layer = program.inspect?.() as GroupsLayer;
  const { worker, engines, access } = installLayerWorker(layer);
  const membershipArgs = (args as MrProgramArgs | undefined)?.membership;
  const membership = membershipArgs === undefined ? undefined : createMembership(env, parseMembershipArgs(membershipArgs));
  if (membership !== undefined) useFailureDetector(layer.node, membership);
  seedStore(env, access, (args as MrProgramArgs | undefined)?.seed ?? [], 1);
  const handle: MrNodeHandle = { layer, node: layer.node, worker, engines, membership };
  return { stop: () => { membership?.stop(); program.stop?.(); }, inspect: () => handle };
}

/** Seed writes a failing disk refused are retried this many times, seedRetryMs apart. */
export const seedWritesMax = 20;
export const seedRetryMs = 100;

/** Writes the seed entries the store lacks (a restart finds the durable ones and rewrites lost ones). */
function seedStore(env: Env, access: KvAccess, seed: readonly (readonly [string, string, unknown])[], writeNo: number): void {
  assert(writeNo >= 1 && writeNo <= seedWritesMax, 'seed writes are bounded');
  const byGid = new Map<string, [string, unknown][]>();
  for (const [gid, key, value] of seed) {
    if (access.get('store', gid, key) !== undefined) continue;
    byGid.set(gid, [...(byGid.get(gid) ?? []), [key, value]]);
  }
  for (const [gid, entries] of byGid) {
    access.write('store', gid, entries, (err) => {
      if (err !== null && writeNo < seedWritesMax) env.timers.set(seedRetryMs, () => seedStore(env, access, seed, writeNo + 1));
    });
  }
}

registerProgram(mrProgramName, createMrNode);
