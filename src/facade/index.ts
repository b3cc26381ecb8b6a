/**
 * The course-compatible facade (`require('distribution/distribution')`, COURSE-API): `bootstrap(config)`
 * builds one node of the node runtime with its groups layer on a course Env (calls as HTTP PUTs, spawned
 * nodes as facade processes), and dresses it as the course's global `distribution` object. It owns no
 * protocol logic: every service object is the node runtime's own (so `local.routes.get('status')` is
 * `distribution.local.status`, and methods replaced in place are what remote calls reach); the facade
 * only adds what the course surface has and the runtime does not: the global, `util`, `node.start`
 * with its HTTP server, `distribution[gid]` kept in step with `groups.put/del`, and plain `Error`s for
 * calls that never reached their peer.
 *
 * See docs/facade.md.
 */
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DistError, hasCode } from '../lib/errors.js';
import { GroupsLayer, allGid } from '../protocols/groups/index.js';
import { installLayerWorker } from '../protocols/mapreduce/index.js';
import {
  consistentHash, defineMethod, DistNode, getID, getNID, getSID, isNodeAddress, naiveHash, nodeIdOf, rendezvousHash, setProcessNode, sidOf,
  type Callback, type NodeConfig, type Service,
} from '../protocols/node/index.js';
import { checkProtectedMode } from '../runtime/config.js';
import { createCourseEnv } from '../runtime/course-env.js';
import { createCourseServer } from '../runtime/course-http.js';
import type { CourseNetStats } from '../runtime/course-net.js';
import { deserialize, serialize } from '../serialize/index.js';
import { bindGlobal } from './global.js';

export const defaultNodeConfig: Readonly<NodeConfig> = Object.freeze({ ip: '127.0.0.1', port: 1234 });
/** How long a call waits for its PUT's answer. Course calls can be long (a group's spawn, MapReduce);
 * a peer that dies fails them at once through the connection, so this only bounds a hung peer. */
export const courseCallTimeoutMs = 60_000;
/** Course nodes do not retry: a PUT may not be idempotent, and the course's own nodes never retry. */
export const courseCallRetriesMax = 0;
/** Keys of the global that are not groups. */
const reservedKeys: ReadonlySet<string> = new Set(['util', 'local', 'node']);
/** Errors of calls that never got an answer from their peer; COURSE-API wants those as plain Errors. */
const unreachedCodes: ReadonlySet<string> = new Set(['E_NODE_TIMEOUT', 'E_NODE_PEER_DOWN', 'E_NODE_STOPPED', 'E_NODE_BUSY']);

export interface FacadeNode {
  config: NodeConfig;
  /** Listens on config.ip:config.port and answers course PUTs; `cb(err)` once listening or failed. */
  start: (cb?: (err: Error | null, server?: Server) => void) => void;
  /** The node's HTTP server once `start` was called. */
  server: Server | undefined;
  /** Not in the course: how this node's calls travelled (ws to our nodes, PUT to course nodes). */
  netStats: () => Readonly<CourseNetStats>;
}

export interface FacadeUtil {
  serialize: (value: unknown) => string;
  deserialize: (text: string) => unknown;
  id: {
    getID: typeof getID; getNID: typeof getNID; getSID: typeof getSID; getMID: (message: unknown) => string;
    naiveHash: typeof naiveHash; consistentHash: typeof consistentHash; rendezvousHash: typeof rendezvousHash;
  };
  wire: { createRPC: (fn: Function) => (...args: unknown[]) => void; toAsync: (fn: Function) => (...args: unknown[]) => void };
}

export interface Distribution {
  util: FacadeUtil;
  local: Record<string, Service>;
  node: FacadeNode;
  all: Record<string, Service>;
  [gid: string]: unknown;
}

let childEntryPath: string | undefined;

/** The script spawned nodes run. The CommonJS bundle names itself; the ESM build uses main.js. */
export function setChildEntry(path: string): void {
  childEntryPath = path;
}

function childEntry(): string {
  return childEntryPath ?? fileURLToPath(new URL('./main.js', import.meta.url));
}

/** A message id unique across nodes and restarts: a hash of the message, the node, a draw of the node's
 * randomness (seeded from the OS in a real node, from the run's seed in the simulator) and a counter. */
function midFactory(node: DistNode): (message: unknown) => string {
  let seq = 0;
  return (message) => {
    let text: string;
    try {
      text = serialize(message);
    } catch {
      text = String(message);
    }
    return getID({ message: text, node: node.id, nonce: node.env.random.int(0, 2 ** 32), seq: ++seq });
  };
}

/** Wraps a synchronous function as `(...args, cb)`; its source stays the original's. */
export function toAsync(fn: Function): (...args: unknown[]) => void {
  if (typeof fn !== 'function') throw new DistError('E_FACADE_BAD_FUNCTION', 'toAsync needs a function');
  const wrapped = function (this: unknown, ...args: unknown[]): void {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as Callback) : () => undefined;
    let value: unknown;
    try {
      value = fn.apply(this, args);
    } catch (err) {
      return callback(err instanceof Error ? err : new Error(String(err)));
    }
    callback(null, value);
  };
  wrapped.toString = () => fn.toString();
  return wrapped;
}

/** The config a node runs with: the caller's object when it names a node, else defaults filled in. */
function resolveNodeConfig(config: unknown): NodeConfig {
  if (config === undefined || config === null) return { ...defaultNodeConfig };
  if (typeof config !== 'object') throw new DistError('E_FACADE_CONFIG', 'config must be an object {ip, port, onStart?}', { field: 'config' });
  const given = config as Partial<NodeConfig>;
  const resolved = isNodeAddress(given) ? (given as NodeConfig) : ({ ...defaultNodeConfig, ...given } as NodeConfig);
  if (typeof resolved.ip !== 'string' || resolved.ip.length === 0) throw new DistError('E_FACADE_CONFIG', 'config.ip must be a non-empty string', { field: 'ip' });
  if (!Number.isInteger(resolved.port) || resolved.port < 1 || resolved.port > 65_535) {
    throw new DistError('E_FACADE_CONFIG', 'config.port must be an integer in [1, 65535]', { field: 'port' });
  }
  return resolved;
}

/** A call that never reached its peer comes back as a plain Error (its code kept), as COURSE-API wants. */
function plainIfUnreached(err: Error | null): Error | null {
  if (err === null || !(err instanceof DistError) || !unreachedCodes.has(err.code)) return err;
  return Object.assign(new Error(err.message), { code: err.code });
}

function gidOf(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  const gid = (config as { gid?: unknown } | null)?.gid;
  return typeof gid === 'string' ? gid : undefined;
}

/**
 * Builds the library for one node: sets `globalThis.distribution` and returns it. The node listens only
 * once `distribution.node.start(cb)` is called.
 */
export function bootstrap(config?: unknown): Distribution {
  const nodeConfig = resolveNodeConfig(config);
  const secret = typeof nodeConfig['secret'] === 'string' ? nodeConfig['secret'] : process.env['DISTRIBUTION_SECRET'] || undefined;
  const storeRoot = typeof nodeConfig['storeDir'] === 'string' ? nodeConfig['storeDir'] : process.env['DISTRIBUTION_STORE_DIR'] || undefined;
  const courseEnv = createCourseEnv({ nodeId: nodeIdOf(nodeConfig), secret, entryPath: childEntry, ...(storeRoot === undefined ? {} : { storeRoot }) });
  const facadeNode: FacadeNode = { config: nodeConfig, start: () => undefined, server: undefined, netStats: () => ({ ...courseEnv.net.stats }) };
  const node = new DistNode(courseEnv.env, {
    config: nodeConfig,
    heap: () => {
      const { heapTotal, heapUsed } = process.memoryUsage();
      return { heapTotal, heapUsed };
    },
    callTimeoutMs: courseCallTimeoutMs,
    callRetriesMax: courseCallRetriesMax,
    // status.stop: the reply has left; close the server and end the process, as a course node does
    // (after the ws connections said goodbye, so peers fail their calls to us at once).
    exit: () => {
      facadeNode.server?.close();
      void courseEnv.net.close().finally(() => process.exit(0));
    },
  });
  // Course gossip has no anti-entropy, and a periodic timer would keep a finished test process alive.
  const layer = new GroupsLayer(node, { antiEntropyMs: 0 });
  // The local `mr` worker, as the runtime's `node` program installs it: `distribution[gid].mr.exec`
  // reaches it on every member (without it a job waits on members that have no `mr` service).
  installLayerWorker(layer);
  setProcessNode(node);
  courseEnv.net.onPeerLost = (peer) => node.peerDown(peer);
  // A spawned node that has exited is no longer among "the nodes it spawned" in `all`.
  courseEnv.hosts.onExited = (id) => void layer.table.rem(allGid, sidOf(id));

  const distribution = dressNode(node, layer, facadeNode);
  // Closing the server also shuts the ws transport (CourseNet.serve); a node never started has only that.
  closeOnStop(node, () => (facadeNode.server === undefined ? void courseEnv.net.stopServing() : facadeNode.server.close()));
  facadeNode.start = (cb) => startServer(node, facadeNode, secret, (err, server) => {
    if (err === null && server !== undefined) courseEnv.net.serve(server, { host: nodeConfig.ip, port: nodeConfig.port });
    if (typeof cb === 'function') cb(err, server);
  });
  (globalThis as unknown as { distribution: Distribution }).distribution = distribution;
  return distribution;
}

/**
 * The course's `distribution` object for a node of the runtime, in any Env (a course process, a runtime
 * node, the simulator): `util`, `local` (the node's own service objects), `all`, `distribution[gid]` kept
 * in step with `groups.put/del`, and the global bound to it inside the node's events (global.ts).
 */
export function dressNode(node: DistNode, layer: GroupsLayer, facadeNode: FacadeNode): Distribution {
  const distribution = { util: facadeUtil(node), local: {}, node: facadeNode, all: {} } as Distribution;
  adaptServices(node, layer, distribution);
  for (const [name, service] of node.services) distribution.local[name] = service;
  distribution.all = layer.servicesFor(allGid) as Record<string, Service>;
  // Groups the node booted with (a program's args) are there from the start, as if put.
  for (const gid of layer.table.gids) if (gid !== allGid && !reservedKeys.has(gid)) distribution[gid] = layer.servicesFor(gid);
  bindGlobal(node, distribution);
  return distribution;
}

function facadeUtil(node: DistNode): FacadeUtil {
  return {
    serialize,
    deserialize: (text: string) => deserialize(text),
    id: { getID, getNID, getSID, getMID: midFactory(node), naiveHash, consistentHash, rendezvousHash },
    wire: { createRPC: (fn: Function) => node.createRPC(fn), toAsync },
  };
}

/**
 * The two adaptations the course surface needs, made in place on the node's own service objects:
 * comm.send answers unreached calls with plain Errors, and groups.put/del keep `distribution[gid]`.
 */
function adaptServices(node: DistNode, layer: GroupsLayer, distribution: Distribution): void {
  const comm = node.services.get('comm') as Service;
  const send = comm['send'] as (...args: unknown[]) => void;
  comm['send'] = defineMethod(2, ([message, remote], reply) => send(message, remote, (err: Error | null, value?: unknown) => reply(plainIfUnreached(err), value)));

  const groups = node.services.get('groups') as Service;
  const put = groups['put'] as (...args: unknown[]) => void;
  const del = groups['del'] as (...args: unknown[]) => void;
  groups['put'] = defineMethod(2, ([groupConfig, group], reply) => {
    put(groupConfig, group, (err: Error | null, value?: unknown) => {
      const gid = gidOf(groupConfig);
      if (err === null && gid !== undefined && !reservedKeys.has(gid)) distribution[gid] = layer.servicesFor(gid);
      reply(err, value);
    });
  });
  groups['del'] = defineMethod(1, ([gid], reply) => {
    del(gid, (err: Error | null, value?: unknown) => {
      if (err === null && typeof gid === 'string' && !reservedKeys.has(gid) && gid !== allGid) delete distribution[gid];
      reply(err, value);
    });
  });
}

/**
 * A course node closes its server as soon as `status.stop` has answered, so a call that follows the
 * answer fails at once. The runtime node only ends a moment later (its parent reaps it), so the facade
 * closes the server and the ws transport right after the answer has been handed to the transport
 * (`stopServing` flushes what is queued); the node can still call its parent, as PUTs.
 */
function closeOnStop(node: DistNode, close: () => void): void {
  const status = node.services.get('status') as Service;
  const stop = status['stop'] as (...args: unknown[]) => void;
  status['stop'] = defineMethod(0, (_args, reply) => stop((err: Error | null, value?: unknown) => {
    reply(err, value);
    if (err === null) setImmediate(close);
  }));
}

function startServer(node: DistNode, facadeNode: FacadeNode, secret: string | undefined, cb: (err: Error | null, server?: Server) => void): void {
  const { ip, port } = facadeNode.config;
  const refusal = checkProtectedMode(ip, secret) ?? (facadeNode.server?.listening === true ? new DistError('E_FACADE_STARTED', 'node already started') : undefined);
  if (refusal !== undefined) return void setImmediate(() => cb(refusal));
  const server = createCourseServer({
    secret,
    dispatch: (gid, service, method, args, reply) => {
      node.stats.callsHandled++;
      node.invokeLocal(gid, service, method, args, reply);
    },
  });
  facadeNode.server = server;
  const onError = (err: Error): void => cb(err);
  server.once('error', onError);
  server.listen(port, ip, () => {
    server.off('error', onError);
    cb(null, server);
  });
}

/** Flags of the course's `distribution.js`: `--ip`, `--port`, `--config <serialized or JSON>`. */
export function parseMainArgs(argv: readonly string[]): NodeConfig | DistError {
  const { values } = parseArgs({
    args: [...argv], strict: false, allowPositionals: true,
    options: { ip: { type: 'string' }, port: { type: 'string' }, config: { type: 'string' } },
  });
  let parsed: Record<string, unknown> = {};
  if (typeof values.config === 'string') {
    const text = values.config;
    let value: unknown;
    try {
      value = deserialize(text);
    } catch {
      try {
        value = JSON.parse(text);
      } catch {
        return new DistError('E_FACADE_CONFIG', `cannot deserialize config string: ${text}`, { field: 'config' });
      }
    }
    if (typeof value !== 'object' || value === null) return new DistError('E_FACADE_CONFIG', 'config must be an object', { field: 'config' });
    parsed = value as Record<string, unknown>;
  }
  const ip = typeof parsed['ip'] === 'string' ? parsed['ip'] : typeof values.ip === 'string' ? values.ip : defaultNodeConfig.ip;
  const port = typeof parsed['port'] === 'number' ? parsed['port'] : typeof values.port === 'string' ? Number(values.port) : defaultNodeConfig.port;
  return { ...parsed, ip, port } as NodeConfig;
}

type ParentReport = { type: 'listening' } | { type: 'failed'; code: string; message: string };

function reportToParent(message: ParentReport): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

/** Runs a node as the course's `distribution.js` does; a spawning parent hears over IPC once it listens. */
export function main(argv: readonly string[] = process.argv): void {
  const config = parseMainArgs(argv);
  if (config instanceof DistError) {
    console.error(config.message);
    process.exit(1);
  }
  let distribution: Distribution;
  try {
    distribution = bootstrap(config);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  // A spawned node never outlives the node that spawned it.
  if (process.connected) process.on('disconnect', () => process.exit(0));
  distribution.node.start((err) => {
    if (err !== null) {
      reportToParent({ type: 'failed', code: hasCode(err, 'EADDRINUSE') ? 'E_ADDR_IN_USE' : String((err as { code?: unknown }).code ?? 'E_NODE_START'), message: err.message });
      console.error(`node ${config.ip}:${config.port} failed to start: ${err.message}`);
      process.exit(1);
    }
    const onStart = distribution.node.config['onStart'];
    if (typeof onStart === 'function') {
      try {
        onStart(null);
      } catch (cause) {
        console.error(`onStart threw: ${(cause as Error)?.message ?? String(cause)}`);
      }
    }
    reportToParent({ type: 'listening' });
  });
}

bootstrap.main = main;
