/**
 * The `node` program: a DistNode with the group layer, as `status.spawn` starts it in a simulated host
 * or a child process. Args are validated once, up front.
 */
import type { Env, NodeProgram } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { DistNode, isNodeAddress, type NodeConfig, type NodeOptions } from '../node/index.js';
import { parseGroup, parseGroupConfig } from './core.js';
import { GroupsLayer, type GroupsOptions } from './layer.js';
import { installLayerWorker } from '../mapreduce/service.js';

export interface NodeProgramArgs extends NodeOptions, GroupsOptions {
  /** Groups this node knows from boot (a restart gets them again). */
  readonly groups?: readonly { readonly config: unknown; readonly group: unknown }[];
}

function parseArgs(args: unknown): NodeProgramArgs {
  const a = (typeof args === 'object' && args !== null ? args : {}) as NodeProgramArgs;
  if (a.config !== undefined && !isNodeAddress(a.config)) throw new DistError('E_NODE_CONFIG', 'args.config must be {ip, port}', { field: 'config' });
  if (a.groups !== undefined && !Array.isArray(a.groups)) throw new DistError('E_NODE_CONFIG', 'args.groups must be a list of {config, group}', { field: 'groups' });
  return a;
}

/** Builds node + groups; the program's `inspect()` is the GroupsLayer (its `.node` is the DistNode). */
export function createNodeProgram(env: Env, args: unknown): NodeProgram {
  const parsed = parseArgs(args);
  const node = new DistNode(env, parsed);
  const layer = new GroupsLayer(node, parsed);
  installLayerWorker(layer); // the local `mr` service, so `distribution[gid].mr.exec` can reach every member
  for (const { config, group } of parsed.groups ?? []) {
    const c = parseGroupConfig(config);
    const g = parseGroup(group);
    if (c instanceof DistError || g instanceof DistError) throw new DistError('E_NODE_CONFIG', 'args.groups holds a bad group', { field: 'groups' });
    layer.table.put(c, g);
  }
  runOnStart(node, parsed.config);
  return { stop: () => node.stop(), inspect: () => layer };
}

/** The course config's `onStart` runs once the node is up; a throwing one is traced, not fatal. */
function runOnStart(node: DistNode, config: NodeConfig | undefined): void {
  const onStart = config?.onStart;
  if (typeof onStart !== 'function') return;
  node.setTimer(0, () => {
    try {
      (onStart as (node: DistNode) => void)(node);
    } catch (err) {
      node.env.trace.event('node.on-start-threw', { message: (err as Error)?.message ?? String(err) });
    }
  });
}
