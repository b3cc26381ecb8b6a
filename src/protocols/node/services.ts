/**
 * The local services every node has, with COURSE-API's semantics: `status`, `routes`, `comm`, and
 * `mem` / `store` (kv/local.ts over a memory engine and over env.disk). Each is a plain object of
 * course-style methods `(…args, cb)`; the node keeps them in its service map, so `routes.get('status')`
 * returns the very object `node.services.get('status')` holds, and callers may replace methods in place.
 */
import { DistError } from '../../lib/errors.js';
import { MemEngine, StoreEngine } from '../kv/engine.js';
import { createLocalStorage } from '../kv/local.js';
import { isNodeAddress } from './id.js';
import { defineMethod, type Service } from './method.js';
import type { DistNode, NodeConfig } from './node.js';

/** (service, method) pairs safe to retry: they read, or they set a value to what it already is. */
const idempotentMethods: ReadonlySet<string> = new Set([
  'status.get', 'routes.get', 'groups.get', 'mem.get', 'store.get', 'status.reap',
]);

/** The same pairs as method -> services, so a lookup builds no key string (it runs on every call). */
const idempotentServicesByMethod: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const byMethod = new Map<string, Set<string>>();
  for (const pair of idempotentMethods) {
    const dot = pair.indexOf('.');
    const method = pair.slice(dot + 1);
    const services = byMethod.get(method) ?? new Set<string>();
    services.add(pair.slice(0, dot));
    byMethod.set(method, services);
  }
  return byMethod;
})();

export function idempotentByDefault(service: string, method: string): boolean {
  return idempotentServicesByMethod.get(method)?.has(service) === true;
}

const statusKeys = ['nid', 'sid', 'ip', 'port', 'counts', 'heapTotal', 'heapUsed'] as const;
type StatusKey = (typeof statusKeys)[number];

function isStatusKey(key: unknown): key is StatusKey {
  return typeof key === 'string' && (statusKeys as readonly string[]).includes(key);
}

export function statusValue(node: DistNode, key: StatusKey): unknown {
  switch (key) {
    case 'nid': return node.nid;
    case 'sid': return node.sid;
    case 'ip': return node.config.ip;
    case 'port': return node.config.port;
    case 'counts': return node.stats.callsHandled;
    case 'heapTotal': return node.heap().heapTotal;
    case 'heapUsed': return node.heap().heapUsed;
  }
}

/** A spawnable config: `{ip, port}` with a real port (0 would mean "any", which names no node). */
function checkSpawnConfig(config: unknown): NodeConfig | DistError {
  if (!isNodeAddress(config) || config.port === 0) {
    return new DistError('E_STATUS_BAD_CONFIG', 'spawn needs a config {ip, port} with port in [1, 65535]', { field: 'config' });
  }
  return config as NodeConfig;
}

function statusService(node: DistNode): Service {
  return {
    get: defineMethod(1, ([key], reply) => {
      if (!isStatusKey(key)) return reply(new DistError('E_STATUS_UNKNOWN_KEY', `unknown status key ${String(key)}`, { key: String(key) }));
      reply(null, statusValue(node, key));
    }, { idempotent: true }),
    spawn: defineMethod(1, ([config], reply) => {
      const checked = checkSpawnConfig(config);
      if (checked instanceof DistError) return reply(checked);
      node.spawn(checked, reply);
    }),
    stop: defineMethod(0, (_args, reply) => {
      reply(null, node.config);
      node.stopSelf();
    }),
    /** Internal: a child this node spawned asks to be stopped (its own `status.stop`). */
    reap: defineMethod(1, ([id], reply) => reply(null, typeof id === 'string' && node.reap(id)), { idempotent: true }),
  };
}

function isServiceValue(value: unknown): value is Service {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function routesService(node: DistNode): Service {
  return {
    /** `get(name)` or `get({service, gid})`; rpc ids resolve to `{call}`. */
    get: defineMethod(1, ([config], reply) => {
      const query = typeof config === 'string' ? { service: config, gid: 'local' } : (config as { service?: unknown; gid?: unknown } | null);
      if (query === null || typeof query !== 'object' || typeof query.service !== 'string') {
        return reply(new DistError('E_ROUTES_BAD_NAME', 'routes.get needs a name or {service, gid}'));
      }
      const gid = typeof query.gid === 'string' ? query.gid : 'local';
      const service = node.resolveService(gid, query.service);
      if (service === undefined) return reply(new DistError('E_ROUTES_NOT_FOUND', `no service ${query.service} in ${gid}`, { service: query.service, gid }));
      reply(null, service);
    }, { idempotent: true }),
    put: defineMethod(2, ([service, name], reply) => {
      if (typeof name !== 'string' || name.length === 0) return reply(new DistError('E_ROUTES_BAD_NAME', 'routes.put needs a non-empty name'));
      if (!isServiceValue(service)) return reply(new DistError('E_ROUTES_BAD_SERVICE', 'routes.put needs a service object'));
      node.services.set(name, service);
      reply(null, name);
    }),
    rem: defineMethod(1, ([name], reply) => {
      const service = typeof name === 'string' ? node.services.get(name) : undefined;
      if (service === undefined) return reply(new DistError('E_ROUTES_NOT_FOUND', `no service ${String(name)}`, { service: String(name) }));
      node.services.delete(name as string);
      reply(null, service);
    }),
  };
}

/** Validates a course `remote` ({node, service, method, gid?}); the error names the missing part. */
export function checkRemote(remote: unknown, needsNode: boolean): DistError | undefined {
  if (typeof remote !== 'object' || remote === null) return new DistError('E_COMM_BAD_REMOTE', 'remote must be an object');
  const r = remote as Record<string, unknown>;
  if (needsNode && !isNodeAddress(r.node)) return new DistError('E_COMM_BAD_NODE', 'remote.node must be {ip, port}');
  if (typeof r.service !== 'string' || r.service.length === 0) return new DistError('E_COMM_BAD_SERVICE', 'remote.service must be a non-empty string');
  if (typeof r.method !== 'string' || r.method.length === 0) return new DistError('E_COMM_BAD_METHOD', 'remote.method must be a non-empty string');
  if (r.gid !== undefined && (typeof r.gid !== 'string' || r.gid.length === 0)) return new DistError('E_COMM_BAD_GID', 'remote.gid must be a non-empty string');
  return undefined;
}

export function checkMessage(message: unknown): DistError | undefined {
  return Array.isArray(message) ? undefined : new DistError('E_COMM_BAD_MESSAGE', 'message must be an array of arguments');
}

function commService(node: DistNode): Service {
  return {
    /** `send(message, {node, service, method, gid?})`: validation errors come back without sending. */
    send: defineMethod(2, ([message, remote], reply) => {
      const invalid = checkMessage(message) ?? checkRemote(remote, true);
      if (invalid !== undefined) return void node.setTimer(0, () => reply(invalid));
      const r = remote as { node: NodeConfig; service: string; method: string; gid?: string };
      node.callRemote(r.node, r.service, r.method, message as unknown[], reply, { gid: r.gid ?? 'local' });
    }),
  };
}

export function createLocalServices(node: DistNode): [string, Service][] {
  return [
    ['status', statusService(node)],
    ['routes', routesService(node)],
    ['comm', commService(node)],
    // `store` keeps no state of its own: a restarted node's store is whatever its disk holds.
    ['mem', createLocalStorage(new MemEngine())],
    ['store', createLocalStorage(new StoreEngine(node.env.disk))],
  ];
}
