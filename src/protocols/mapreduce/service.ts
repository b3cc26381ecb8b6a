/**
 * MapReduce on a node, without the `mr` program: the Rpc over the node runtime, the local worker, a
 * job started from a node (callback and Promise forms) and the course group service
 * `distribution[gid].mr.exec(spec, cb)`. Imports the group layer for types only, so the groups layer
 * can install these without an import cycle.
 */
import type { NodeId } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import type { GroupsLayer } from '../groups/layer.js';
import { MemEngine, StoreEngine, type KvEngine } from '../kv/engine.js';
import { defineMethod, getID, naiveHash, nidOf, nodeIdOf, type Callback, type DistNode, type Service } from '../node/index.js';
import { engineAccess, type DoneCallback, type EngineName, type KvAccess, type Rpc } from './access.js';
import { checkSpec, Job, mrOptionsDefault, type FailureDetector, type MrOptions, type MrSpec } from './coordinator.js';
import type { Pair } from './user.js';
import { MrWorker, mrService } from './worker.js';

/** An Rpc to the `mr` service: this node's own calls skip the network (no copy), others go through it. */
export function nodeRpc(node: DistNode): Rpc {
  return {
    call: (to, method, args, timeoutMs, callback) => (to === node.id
      ? node.invokeLocal('local', mrService, method, args, callback)
      : node.callRemote(to, mrService, method, args, callback, { timeoutMs, idempotent: false })),
    peerDown: (id) => node.peerDown(id),
  };
}

/** Registers the worker as this node's local `mr` service. */
export function installWorker(node: DistNode, access: KvAccess): MrWorker {
  const worker = new MrWorker(node.env, access, nodeRpc(node), (delayMs, onFire) => void node.setTimer(delayMs, onFire));
  node.services.set(mrService, worker.service());
  return worker;
}

/** Failure detectors by node, set by a program that runs one (the `mr` program with `membership`
 * args): every job started from that node, by `execJob` or the group service, reports the detector's
 * verdicts. Keyed by the node object, looked up and never iterated, so it adds no nondeterminism;
 * a crashed node's entry goes with its object. */
const detectors = new WeakMap<DistNode, FailureDetector>();

/** Jobs started from `node` from now on learn of members the detector declares dead or left. */
export function useFailureDetector(node: DistNode, detector: FailureDetector): void {
  detectors.set(node, detector);
}

/** Runs one job from `node` over `members` (callback form). A bad spec answers E_MR_BAD_SPEC. */
export function execJob(node: DistNode, gid: string, members: readonly NodeId[], spec: unknown, callback: Callback, options: Partial<MrOptions> = {}): Job | undefined {
  const bad = checkSpec(spec) ?? (members.length === 0 ? new DistError('E_GROUP_EMPTY', `group ${gid} has no members`, { gid }) : undefined);
  if (bad !== undefined) return void node.setTimer(0, () => callback(bad));
  const tuned = { ...mrOptionsDefault, ...options, ...((spec as { options?: Partial<MrOptions> }).options ?? {}) };
  // Two draws from the node's stream: unique enough across a cluster's jobs, and the same every run.
  const id = `${node.sid}${node.env.random.int(0, 2 ** 30).toString(36)}${node.env.random.int(0, 2 ** 30).toString(36)}`;
  const job = new Job({ env: node.env, rpc: nodeRpc(node), detector: detectors.get(node) }, id, gid, [...members].sort(), spec as MrSpec, tuned, callback);
  job.start();
  return job;
}

/** The typed Promise API: resolves with the reduce outputs (`{k: v}` objects), rejects with a DistError. */
export function mapReduce(node: DistNode, gid: string, members: readonly NodeId[], spec: MrSpec, options: Partial<MrOptions> = {}): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    execJob(node, gid, members, spec, (err, value) => (err === null ? resolve(value as Record<string, unknown>[]) : reject(err)), options);
  });
}

function groupMembers(layer: GroupsLayer, gid: string): NodeId[] {
  return layer.table.members(gid).map(([, address]) => nodeIdOf(address));
}

/** `distribution[gid].mr`: `exec(spec, cb)` coordinates from this node over the group's members. */
export function mrGroupService(layer: GroupsLayer, gid: string): Service {
  return { exec: defineMethod(1, ([spec], reply) => void execJob(layer.node, gid, groupMembers(layer, gid), spec, reply)) };
}

/** `out`: each key goes to its owner in group `gid` by that group's hash (naive by default) over
 * getID(key), as the course's group store routes it; one `mr.put` per owner. */
export function routedPutOut(layer: GroupsLayer): KvAccess['putOut'] {
  return (gid: string, pairs: readonly Pair[], onDone: DoneCallback) => {
    const members = groupMembers(layer, gid);
    if (members.length === 0) return onDone(new DistError('E_MR_OUT_UNKNOWN', `out group ${gid} has no members here`, { gid }));
    const hash = layer.table.config(gid)?.hash ?? naiveHash;
    const byNid = new Map(members.map((id) => [nidOf(id), id]));
    const perOwner = new Map<NodeId, Pair[]>();
    for (const pair of pairs) {
      const owner = byNid.get(hash(getID(pair[0]), [...byNid.keys()])) as NodeId;
      perOwner.set(owner, [...(perOwner.get(owner) ?? []), pair]);
    }
    let waiting = perOwner.size;
    let failed: DistError | null = null;
    if (waiting === 0) return onDone(null);
    const rpc = nodeRpc(layer.node);
    for (const [owner, some] of perOwner) {
      rpc.call(owner, 'put', [gid, some], mrOptionsDefault.shuffleCallMs, (err) => {
        failed ??= err === null ? null : new DistError('E_MR_OUT_FAILED', `writing outputs to ${owner} failed: ${err.message}`, { gid, node: owner });
        if (--waiting === 0) onDone(failed);
      });
    }
  };
}

/** What a node's MapReduce worker holds: the worker and its engines (store: the node's Env disk, shared
 * with the kv layer's store engine, which keeps no state of its own; mem: the worker's own). */
export interface MrParts {
  readonly worker: MrWorker;
  readonly engines: Readonly<Record<EngineName, KvEngine>>;
  readonly access: KvAccess;
}

/** Installs the `mr` worker on a node of the group layer (the `node` program calls this). */
export function installLayerWorker(layer: GroupsLayer): MrParts {
  const engines = { mem: new MemEngine(), store: new StoreEngine(layer.node.env.disk) };
  const access = engineAccess(engines, routedPutOut(layer));
  return { worker: installWorker(layer.node, access), engines, access };
}
