/**
 * Groups and gossip (M3) on top of the node runtime: COURSE-API's local `groups` service, the group
 * services `distribution[gid].*` built by a factory per gid, and gossip with duplicate suppression and
 * anti-entropy. Registers the `node` program (a DistNode with this layer).
 *
 * Guarantees:
 * - Local groups: `get/del/add` of an unknown gid answer E_GROUPS_NOT_FOUND; `rem` of an unknown SID is a
 *   no-op; `put` validates the config (gid string or `{gid, hash?, subset?}`, E_GROUPS_BAD_CONFIG) and
 *   the group (`{sid: {ip, port}}`, keys kept as given, as the course does; E_GROUPS_BAD_GROUP); `all` always
 *   holds this node and every node it spawned. Library hash functions cross the wire by name.
 * - Fan-out (`comm.send`, `status.get/stop`, `routes.put/rem`, `groups.*`): one call per member, answered
 *   once with `(errors, values)` keyed by SID (`errors` is `{}` when nothing failed; a member that fails
 *   or times out is in `errors`); a group with no members answers one E_GROUP_EMPTY error and no value.
 *   `comm.send` with a bad message or remote answers that error for every member, as the course's
 *   nodes do (each member refuses it).
 *   `status.get`: nid/sid -> arrays, heapTotal -> sum (both in SID order), other keys -> `{sid: value}`.
 * - Gossip: `gossip.send(message, {service, method})` runs the call on this node and sends it to a
 *   random subset (config.subset, default ceil(ln n)) of the other members; each receiver runs it once
 *   (message ids in a bounded seen-set, `gossipSeenMax`) and forwards to its own subset. Anti-entropy
 *   (every `antiEntropyMs`, one digest exchange with one random member) brings retained messages
 *   (`gossipRetainedMax`, newest kept) to members that missed the rumour, so after healing a message
 *   reaches every live member (checked by the `gossip` sim workload). Randomness only from env.random.
 * - `gossip.at(periodMs, fn)` runs fn every periodMs on this node (a throwing fn is traced and keeps its
 *   schedule) and answers a handle; `gossip.del(handle)` stops it (E_GOSSIP_UNKNOWN_HANDLE otherwise).
 * - `mem`/`store` group services route each key to one member by the group's hash (kv/group.ts).
 * Tolerates what the node runtime tolerates; a member that is down shows up in `errors` (timeout).
 *
 * Membership hook (for src/protocols/membership): with the program's `inspect()` (a GroupsLayer),
 *   layer.nodeDead(id)   the node leaves every group on this node, and calls waiting on it fail with
 *                        E_NODE_PEER_DOWN at once; returns the gids it left
 *   layer.nodeAlive(id)  the node is (again) in `all` on this node
 * Membership calls these on each node as its own view changes; dead nodes thereby leave the group
 * everywhere as the news spreads.
 *
 * Program `node`, args NodeProgramArgs: NodeOptions (config, heap, callTimeoutMs, parent, exit, ...)
 * plus GroupsOptions and `groups: [{config, group}]` known from boot. `inspect()` returns the GroupsLayer.
 */
import { registerProgram } from '../../lib/programs.js';
import { nodeProgramName } from '../node/index.js';
import { createNodeProgram } from './program.js';

export {
  aggregateStatus, allGid, groupsMax, GroupsTable, localGid, membersMax, parseGroup, parseGroupConfig, pickSubset, SeenSet, subsetSize, toWireConfig,
  type Group, type GroupConfig, type SubsetFn,
} from './core.js';
export {
  antiEntropyMsDefault, atTasksMaxDefault, gossipRetainedMaxDefault, gossipSeenMaxDefault, GroupsLayer,
  type FanOutCallback, type GossipPayload, type GroupsOptions,
} from './layer.js';
export { createGroupServices } from './services.js';
export { createNodeProgram, type NodeProgramArgs } from './program.js';

registerProgram(nodeProgramName, createNodeProgram);
