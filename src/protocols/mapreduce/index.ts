/**
 * MapReduce over the store (M5; Dean & Ghemawat, OSDI 2004). `distribution[gid].mr.exec(spec, cb)`
 * with COURSE-API's spec `{keys, map, reduce, compact?, out?, memory?, rounds?}`, and the typed
 * `mapReduce(node, gid, members, spec)` Promise. Map and reduce functions travel as values (the
 * serializer ships their source) to the nodes that hold the data.
 *
 * How a job runs: the coordinator (the node `exec` is called on) asks every member which of `keys` it
 * holds in gid's store, cuts them into map tasks (at most `mapTaskKeysMax` keys, grouped by the nodes
 * holding them) and drives a pure task table per round (core.ts). A map attempt runs where its keys
 * live, combines (`compact`) per partition, and pushes each partition to its owner in batches of at
 * most `batchPairsMax` pairs; the owner keeps them (in `mem` with `memory: true`, else durably in
 * `store`) and later reduces the partition from an exact manifest. `rounds: n` maps round i+1 over the
 * outputs round i left on its reducers, in place. The last round answers the reduce outputs (and with
 * `out` writes them to that group's store, each key at its owner by the group's hash).
 *
 * Guarantees:
 * - A job answers once: `(null, results)` with exactly one `{k: v}` per distinct reduce key, equal to a
 *   sequential run of the same spec whenever map, compact and reduce are deterministic functions of their
 *   arguments (compact and reduce may see values in any grouping but always in the stable order: map
 *   task (sorted keys), batch, position); or one coded error. Never a silently partial result.
 * - Errors: E_MR_BAD_SPEC (field named); E_MR_KEYS_MISSING (a key no member holds); E_MR_DATA_LOST (every
 *   holder of a task's keys answered it lacks them) and E_MR_DATA_UNREACHABLE (no holder answered within
 *   attemptsMax attempts), both naming the task, gid, first keys and nodes; E_MR_MAP_THREW/_SHAPE,
 *   E_MR_COMPACT_THREW/_SHAPE, E_MR_REDUCE_THREW/_SHAPE with `details.key`; E_MR_USER_SLOW /
 *   E_MR_USER_TASK_BUDGET (a call or task over its time budget, retried, then reported with its key);
 *   E_MR_TASK_FAILED (a reduce that failed attemptsMax times); E_MR_OUT_FAILED.
 * Fault model (what the job tolerates, checked in the simulator under heavy faults):
 * - loss, duplication, delay, reordering, partitions: every call has a deadline; batches are idempotent
 *   by name; answers of old attempts are ignored or used only when still valid;
 * - a worker that crashes or is cut off: found by deadlines, or at once by a failure detector
 *   (`useFailureDetector`, SWIM membership in the `mr` program, or `job.nodeDown`). Its map attempts are
 *   re-executed on the other holders of the same keys (replicas) as their slots free up, or, with one
 *   holder, on that holder once it is back (input is in the durable store, which survives restarts);
 *   its reduce partitions move to the survivors owning the fewest, and every map task ships them again
 *   (map output delivered to surviving owners stays valid; map answers are partial). Map input must
 *   therefore be readable on some holder within attemptsMax attempts; otherwise the job fails with
 *   E_MR_DATA_UNREACHABLE / E_MR_DATA_LOST naming what is missing;
 * - intermediates between rounds kept with `memory: true` die with their node: the next round then
 *   fails with E_MR_DATA_LOST naming the partition's gid (use the default, `store`, for jobs that must
 *   survive crashes between rounds);
 * - stragglers (§3.6): a map attempt running longer than backupAfterMs gets one backup on another holder;
 *   a reduce attempt gets one backup destination on another member (map tasks ship the partition there
 *   too); the first answer wins;
 * - the coordinator is not replicated: if its node crashes the job is gone with its caller (§3.3).
 * - JavaScript cannot preempt a synchronous endless loop in a user function: that node hangs until the
 *   function returns; the coordinator's deadline moves its task elsewhere, then reports (user.ts).
 *
 * Local service `mr` on every node (worker.ts): keys, map, shuffle, reduce, put, down, drop.
 */
export { engineAccess, type DoneCallback, type EngineName, type KvAccess, type Rpc } from './access.js';
export { checkSpec, Job, mrOptionsDefault, roundsMax, type CoordinatorHost, type FailureDetector, type MrOptions, type MrSpec } from './coordinator.js';
export { partitionOf, RoundTable, userErrorCodes, type Action, type MapAction, type ReduceAction, type RoundConfig, type RoundOutcome, type Source } from './core.js';
export { createMrNode, mrProgramName, type MrNodeHandle, type MrProgramArgs } from './program.js';
export { execJob, installLayerWorker, installWorker, mapReduce, mrGroupService, nodeRpc, routedPutOut, useFailureDetector, type MrParts } from './service.js';
export { aggregate, aggregateColumns, callUser, groupColumns, groupOne, groupPairs, mapPairs, visitMapOutput, type CallBudget, type Columns, type Pair } from './user.js';
export { MrWorker, mrService, outputGid, shuffleGid, type MapAnswer, type MapRequest, type ReduceAnswer, type ReduceRequest, type ShuffleRequest } from './worker.js';
