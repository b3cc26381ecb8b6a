/**
 * The node runtime (M2): a node is an actor with local services, and calls between nodes are RPCs over
 * the Env's datagram network. Written once against Env; runs in the simulator and in real processes.
 *
 * Guarantees:
 * - Every call completes exactly once: with the remote method's `(err, value)`, or with a coded error
 *   (E_NODE_TIMEOUT after `callTimeoutMs` per attempt, at most `callTimeoutSlackMs` later: one sweep
 *   timer per node; E_NODE_PEER_DOWN when told the peer is dead, E_NODE_BUSY beyond `callsInFlightMax`,
 *   E_NODE_ARGS_UNENCODABLE, E_NODE_STOPPED). A late, duplicated or stale reply is dropped and counted
 *   (`stats.repliesUnknown`).
 * - At most once per remembered call: a callee runs a given (caller, epoch, seq) once while it is among
 *   its last `recentCallsMax` calls; duplicates get the cached reply. Calls to a method the callee
 *   declares idempotent (`defineMethod(…, {idempotent: true})`: status.get, routes.get, groups.get,
 *   mem/store.get …) are not remembered: a duplicate runs again. Only idempotent calls (those methods,
 *   or `{idempotent: true}` from the caller) are retried, at most `callRetriesMax` times, with the same id.
 * - A node never throws on input from the network: bad envelopes are dropped and counted
 *   (`stats.badMessages`); arguments that do not decode, unknown services and methods, and handlers
 *   that throw get coded error replies (E_NODE_BAD_ARGS, E_NODE_NO_SERVICE, E_NODE_NO_METHOD,
 *   E_NODE_HANDLER_THREW); a handler that answers twice has its extra answers dropped (`stats.repliesExtra`).
 * Tolerates: loss, duplication, reordering, delay, partitions, crashes of either side (a crashed caller's
 * new incarnation has a new epoch, so it never takes an old reply for a new call).
 *
 * Identity (id.ts): Env node id `host:port` <-> course node `{ip, port}` (other ids, like the
 * simulator's `n1`, <-> `{ip: id, port: 0}`); NID = sha256(JSON.stringify({ip, port})), SID = its
 * first 5 hex chars; naiveHash / consistentHash / rendezvousHash, which travel by name (`hashName`).
 *
 * Local services (services.ts), each a plain object of course-style methods `(...args, cb)`:
 *   status.get(key)         nid | sid | ip | port | counts | heapTotal | heapUsed, else E_STATUS_UNKNOWN_KEY
 *   status.spawn(config)    env.hosts.spawn of program `node`; `(null, config)` once up; the groups layer
 *                           adds it to `all`; E_STATUS_BAD_CONFIG for a config without ip or with port 0;
 *                           E_NODE_EXISTS when a node with that id runs
 *   status.stop()           replies `(null, config)`, then the node ends (its parent stops it, or its
 *                           `exit` option runs, or env.hosts.stop(self))
 *   routes.get(name | {service, gid})  local services, rpc ids (as `{call}`), or a group's service;
 *                           else E_ROUTES_NOT_FOUND / E_ROUTES_BAD_NAME
 *   routes.put(service, name) -> name;  routes.rem(name) -> the removed service, or E_ROUTES_NOT_FOUND
 *   comm.send(message, {node, service, method, gid?})  validation (E_COMM_BAD_MESSAGE, _BAD_REMOTE,
 *                           _BAD_NODE, _BAD_SERVICE, _BAD_METHOD, _BAD_GID) answers without sending
 *   mem.*, store.*          put/get/del/append of COURSE-API (kv/local.ts); store on env.disk
 *
 * RPC: `node.createRPC(fn)` registers fn under `rpc-<epoch>-<n>` and returns a stub `(...args, cb)`
 * whose source carries the creator's node id and the rpc id; called on any node (inside that node's
 * event, or in a process that called `setProcessNode`) it calls `{service: rpcId, method: 'call'}` on
 * the creator, where fn runs against the creator's state.
 *
 * ---- Two API layers over the same services --------------------------------------------------------
 *
 * Typed, Promise-based (TypeScript users):
 *   const node = new DistNode(env, options)             // or createNodeProgram via the `node` program
 *   await node.call<string>(target, 'status', 'get', ['nid'])   // target: NodeId or {ip, port}
 *   await node.call(target, 'comm', 'send', [...], { gid: 'g1', timeoutMs: 500, idempotent: false })
 *
 * Callback layer (what the course facade adapts; error-first `cb(err, value)`, always asynchronous):
 *   node.callRemote(target, service, method, args, cb, options?)   one remote call
 *   node.invokeLocal(gid, service, method, args, cb)               same dispatch, no network, no copy
 *   node.services                Map name -> service object (the facade's `distribution.local`;
 *                                `routes.get('status')` is `node.services.get('status')`)
 *   node.resolveService(gid, name)   what a `PUT /<gid>/<service>/<method>` should dispatch to
 *   node.createRPC(fn)           the stub for `util.wire.createRPC`
 *   node.config / nid / sid / children / stats / peerDown(id) / setTimer / cancelTimer / stop()
 *   setProcessNode(node)         one-node processes: stubs called outside any event use this node
 *   withCurrentNode(node, fn)    run fn as that node (the facade binds its global the same way)
 * Facade notes: COURSE-API wants a connection failure as a plain `Error`; ours is a DistError with code
 * E_NODE_TIMEOUT or E_NODE_PEER_DOWN, so the facade converts. Port-in-use detection for spawn is the
 * facade's (the Env has no ports).
 *
 * Channel `node`; messages in messages.ts.
 */
export {
  addressOf, consistentHash, getID, getNID, getSID, hashByName, hashName, isNodeAddress, naiveHash, nidOf, nodeIdOf,
  rendezvousHash, sidChars, sidOf, type HashFn, type HashName, type NodeAddress,
} from './id.js';
export { CallTable, FifoMap, RecentCalls, type PendingCall, type RecentState } from './core.js';
export { decodeMessage, encodeCall, encodeReply, idMax, nameBytesMax, nodeChannel, type CallMessage, type NodeMessage, type ReplyMessage } from './messages.js';
export { arityOf, defineMethod, invokeMethod, isIdempotent, type Callback, type Method, type MethodImpl, type Service } from './method.js';
export { currentNode, isRpcId, rpcStub, setProcessNode, withCurrentNode, type RpcCaller } from './rpc.js';
export { checkMessage, checkRemote, idempotentByDefault, statusValue } from './services.js';
export {
  DistNode, callRetriesMaxDefault, callTimeoutMsDefault, callTimeoutSlackMs, callsInFlightMaxDefault, nodeProgramName, recentCallsMaxDefault, stopAfterReplyMs,
  type CallOptions, type HeapFigures, type NodeConfig, type NodeOptions, type NodeStats,
} from './node.js';
