/**
 * Group services (`distribution[gid].*`), built by a factory for one gid. Fan-out operations answer
 * `(errors, values)`: two objects keyed by member SID, `errors` being `{}` when nothing failed; a group
 * with no members answers one error. Membership is read at call time, so a service object stays valid
 * as members come and go.
 */
import { DistError } from '../../lib/errors.js';
import {
  checkMessage, checkRemote, defineMethod, naiveHash, type Callback, type NodeConfig, type Service,
} from '../node/index.js';
import { createGroupStorage, type GroupStorageHost } from '../kv/group.js';
import { aggregateStatus, parseGroupConfig, toWireConfig } from './core.js';
import type { FanOutCallback, GroupsLayer } from './layer.js';
import { mrGroupService } from '../mapreduce/service.js';

/** A fan-out callback as a course callback: `(errors, values)` in the `(err, value)` slots. One Error
 * (an empty group) means the call as a whole failed: it comes with no value, as the course's does. */
function asCallback(reply: Callback): FanOutCallback {
  return (errors, values) => (errors instanceof Error ? reply(errors) : reply(errors as unknown as Error, values));
}

/** Answers a validation error the way a failed fan-out answers: asynchronously, one error, no value. */
function refuse(layer: GroupsLayer, reply: Callback, err: DistError): void {
  layer.node.setTimer(0, () => reply(err));
}

/** A call no member could take (bad message or remote): the course's group comm sends it anyway and
 * every member refuses it, so course code sees that error under each member's SID. */
function refuseEach(layer: GroupsLayer, gid: string, reply: Callback, err: DistError): void {
  const members = layer.table.members(gid);
  if (members.length === 0) return refuse(layer, reply, new DistError('E_GROUP_EMPTY', `group ${gid} has no members`, { gid }));
  const errors: Record<string, Error> = {};
  for (const [sid] of members) errors[sid] = err;
  layer.node.setTimer(0, () => reply(errors as unknown as Error, {}));
}

function commService(layer: GroupsLayer, gid: string): Service {
  return {
    send: defineMethod(2, ([message, remote], reply) => {
      const invalid = checkMessage(message) ?? checkRemote(remote, false);
      if (invalid !== undefined) return refuseEach(layer, gid, reply, invalid);
      const r = remote as { service: string; method: string; gid?: string };
      layer.fanOut(gid, r.service, r.method, message as unknown[], asCallback(reply), r.gid ?? 'local');
    }),
  };
}

function statusService(layer: GroupsLayer, gid: string): Service {
  return {
    get: defineMethod(1, ([key], reply) => {
      layer.fanOut(gid, 'status', 'get', [key], (errors, values) => reply(errors as Error, aggregateStatus(key, values)));
    }),
    /** Spawns a node here and puts the grown group on every member (the new node included). */
    spawn: defineMethod(1, ([config], reply) => {
      layer.node.invokeLocal('local', 'status', 'spawn', [config], (err, spawned) => {
        if (err !== null) return reply(err);
        layer.table.add(gid, spawned);
        const wire = toWireConfig(layer.table.config(gid) ?? { gid });
        layer.fanOut(gid, 'groups', 'put', [wire, layer.table.get(gid)], () => reply(null, spawned as NodeConfig));
      });
    }),
    stop: defineMethod(0, (_args, reply) => layer.fanOut(gid, 'status', 'stop', [], asCallback(reply))),
  };
}

function routesService(layer: GroupsLayer, gid: string): Service {
  return {
    put: defineMethod(2, ([service, name], reply) => layer.fanOut(gid, 'routes', 'put', [service, name], asCallback(reply))),
    rem: defineMethod(1, ([name], reply) => layer.fanOut(gid, 'routes', 'rem', [name], asCallback(reply))),
  };
}

function groupsService(layer: GroupsLayer, gid: string): Service {
  const everywhere = (method: string, arity: number): Service[string] =>
    defineMethod(arity, (args, reply) => layer.fanOut(gid, 'groups', method, args, asCallback(reply)));
  return {
    /** Validated here first, then put on every member with library hashes sent by name. */
    put: defineMethod(2, ([config, group], reply) => {
      const parsed = parseGroupConfig(config);
      if (parsed instanceof DistError) return refuse(layer, reply, parsed);
      layer.fanOut(gid, 'groups', 'put', [toWireConfig(parsed), group], asCallback(reply));
    }),
    get: everywhere('get', 1),
    del: everywhere('del', 1),
    add: everywhere('add', 2),
    rem: everywhere('rem', 2),
  };
}

function gossipService(layer: GroupsLayer, gid: string): Service {
  return {
    send: defineMethod(2, ([message, remote], reply) => {
      const invalid = checkMessage(message) ?? checkRemote(remote, false);
      if (invalid !== undefined) return refuse(layer, reply, invalid);
      const r = remote as { service: string; method: string };
      layer.gossipSend(gid, message as unknown[], r.service, r.method, asCallback(reply));
    }),
    at: defineMethod(2, ([periodMs, fn], reply) => {
      const handle = layer.at(periodMs, fn);
      layer.node.setTimer(0, () => (handle instanceof DistError ? reply(handle) : reply(null, handle)));
    }),
    del: defineMethod(1, ([handle], reply) => {
      const result = layer.del(handle);
      layer.node.setTimer(0, () => (result instanceof DistError ? reply(result) : reply(null, result)));
    }),
  };
}

/** Course group storage (kv/group.ts): routed by the group's hash over the members read at call time. */
function storageHost(layer: GroupsLayer, gid: string): GroupStorageHost {
  return {
    gid,
    members: () => layer.table.members(gid),
    hash: () => layer.table.config(gid)?.hash ?? naiveHash,
    call: (to, service, method, args, callback) => layer.node.callRemote(to, service, method, args, callback, { gid: 'local' }),
    later: (fn) => void layer.node.setTimer(0, fn),
  };
}

export function createGroupServices(layer: GroupsLayer, gid: string): Record<string, Service> {
  const host = storageHost(layer, gid);
  return {
    comm: commService(layer, gid),
    status: statusService(layer, gid),
    routes: routesService(layer, gid),
    groups: groupsService(layer, gid),
    gossip: gossipService(layer, gid),
    mr: mrGroupService(layer, gid),
    mem: createGroupStorage(host, 'mem'),
    store: createGroupStorage(host, 'store'),
  };
}
