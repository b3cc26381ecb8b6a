/**
 * Membership and failure detection: SWIM (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent
 * Infection-style Process Group Membership Protocol", DSN 2002) with refinements from memberlist and
 * Lifeguard (Dadgar, Phillips, Currey, 2018).
 *
 * How: every probeIntervalMs a node pings the next member of a round-robin over a shuffled list
 * (§4.3). No ack within ackTimeoutMs: it asks `indirectProbes` random members to ping the target for
 * it (ping-req, §3.1). No ack by the end of the period: the target is *suspected* at the incarnation
 * known for it (§4.2). A suspected node that hears of it refutes by announcing `alive` at a higher
 * incarnation; a suspicion not refuted within suspicionTimeoutMs becomes *dead*. Records ride on every
 * probe message and on a gossip push to `gossipFanout` random members every gossipIntervalMs, each sent
 * at most retransmitMult * ceil(log10(n + 1)) times (§4.1). A message to a member we think suspected or
 * dead carries that record first, so it can refute at once (Lifeguard's buddy system). A node that
 * finds itself slow (probes unanswered within their period, suspicions of itself to refute) stretches
 * its own probe periods and ack timeouts up to localHealthMax + 1 times (Lifeguard's local health). Every
 * syncIntervalMs a node exchanges its whole table with one random known member, dead ones and seeds
 * included (memberlist's push-pull), which is how two sides of a healed partition find each other.
 * A node joins by syncing with its seeds; a restarted node rejoins at its last durable incarnation + 1,
 * written to disk before it sends anything; a graceful `leave()` spreads `left`.
 *
 * Merge rule: per member, the largest (incarnation, state) record wins, alive < suspect < dead < left
 * at equal incarnations. Tables merge by pointwise maximum, so views converge whatever the order,
 * loss or duplication of messages (core.ts; property-tested).
 *
 * Guarantees (checked by the `membership` simulator workload, src/sim/workloads/membership.ts):
 * - Self-trust: a node never holds itself suspected, dead or left (except after its own leave()).
 * - Monotonic incarnations: a node's record of any member never moves back in (incarnation, state),
 *   and no node ever holds an incarnation of m that m has not announced; each restart of m starts above
 *   every incarnation of m anyone holds.
 * - Completeness: a crashed node that stays down is declared dead by every live node. Expected time:
 *   about 1.6 probe periods until the first failed probe (SWIM §3.1: the chance that no one picks it
 *   falls as e^-1 per period), plus suspicionTimeoutMs, plus a few gossip rounds.
 * - Accuracy: on connected links with loss up to 10% and delays below ackTimeoutMs most of the time, a
 *   live node may be suspected but is not declared dead (a false death needs its direct probe and all
 *   k indirect ones to fail and then its refutation to be lost for a whole suspicion timeout).
 *   A partition longer than the detection time is indistinguishable from a crash: the cut-off side is
 *   declared dead, and refutes and rejoins when the partition heals.
 * - Convergence: after faults heal, every live node's view of the live members becomes the same (all
 *   alive) within a few sync intervals.
 *
 * Tolerates: message loss, duplication, reordering and delay; one- and two-way partitions and clogged
 * links (as suspicion, or death and rejoin); crash and restart of any node (disk keeps the incarnation;
 * unsynced writes may be lost, which is why nothing is sent before the write is durable); failing disk
 * writes (retried); clock skew and drift (only local durations are measured).
 *
 * Listener hook, for layers above (groups): `membership.onChange((nodeId, state, incarnation) => ...)`
 * fires on every change of this node's view of another member: `alive` (joined, refuted a suspicion, or
 * rejoined after death at a higher incarnation), `suspect`, `dead`, `left`. A group layer removes a node
 * from its groups on `dead` or `left`. Build one with `createMembership(env, config, { channel })`
 * inside another program (it uses its own channel and disk key prefix), or run it alone.
 *
 * Program name: `membership`, args `{ seeds: NodeId[], probeIntervalMs?, ackTimeoutMs?,
 * suspicionTimeoutMs?, indirectProbes?, gossipIntervalMs?, gossipFanout?, retransmitMult?,
 * syncIntervalMs?, piggybackUpdatesMax?, localHealthMax? }` (config.ts has the ranges and defaults).
 * Channel: `membership`; messages in messages.ts. Disk: `membership/incarnation`.
 */
import { registerProgram } from '../../lib/programs.js';
import { createMembershipNode } from './node.js';

export {
  isMember, LocalHealth, mergeTables, memberStates, membersMax, MembershipCore, ProbeSchedule, retransmitLimit, stateRank, supersedes, suspicionTimeoutMs, UpdateQueue,
  type CoreConfig, type MemberChange, type MemberRecord, type MemberState, type MembershipView,
} from './core.js';
export { membershipDefaults, parseMembershipArgs, type MembershipConfig } from './config.js';
export { decodeMessage, encodeMessage, type MembershipMessage } from './messages.js';
export {
  createMembership, createMembershipNode, membershipChannel, membershipDiskPrefix, sample,
  type Membership, type MembershipListener, type MembershipOptions,
} from './node.js';

export const membershipProgramName = 'membership';
registerProgram(membershipProgramName, createMembershipNode);
