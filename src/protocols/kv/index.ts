/**
 * Storage (M4): local `mem`/`store`, placement, and group storage with reconfiguration.
 *
 * Local (engine.ts, local.ts): COURSE-API's mem and store; store on env.disk (lmdb / simulated disk),
 * values through the binary serializer, one atomic batch per call, reply only in onDurable. Coded
 * errors: E_KV_NOT_FOUND, E_KV_BAD_KEY, E_KV_KEY_TOO_LONG (keyCharsMax), E_KV_BAD_GID, E_KV_BAD_CONFIG,
 * E_KV_VALUE_TOO_LARGE (valueBytesMaxDefault), E_KV_UNSERIALIZABLE, E_KV_DISK (failing/full disk;
 * nothing written).
 *
 * Placement (placement.ts, pure): naive, consistent (vnodes per member; 0 = the course's plain ring),
 * rendezvous; course-identical for the plain variants.
 *
 * Group storage (core.ts pure rules, shard.ts driver, program.ts `kv` program with SWIM membership):
 * a coordinator routes each call to the key's owner by its view; a node serves a key only while the key
 * is in its ownership token, which it gets by a settle round that collects the records it now owns
 * from every holder of the gid (down nodes included); each holder stops serving what the puller claims
 * as it answers. Records carry Lamport versions; merges keep the larger. After the merged records are
 * durable the puller installs its token and confirms the keys it newly wrote, and holders drop copies
 * not newer than confirmed. Membership changes start a round (automatic reconfiguration); `planReconf`
 * lists exactly the keys whose owner changed.
 *
 * Guarantees (store engine; checked by the `kv` simulator workload under heavy faults):
 * - At most one node serves a key at any moment, whatever the membership views (kv.single-owner).
 * - An acknowledged put is durable on its owner (reply in onDurable) and moves only durably-before-
 *   delete, so it is never lost; a get never answers a value replaced by a put acknowledged before the
 *   get started, nor not-found after an acknowledged put (kv.no-stale-read).
 * - After healing, every key has exactly one owner and reads back its latest acknowledged value.
 * Durability assumptions: a disk write reported durable survives crashes; data lives on one node (no
 * replication), so keys whose data sits on a down node are unavailable (E_KV_NOT_READY after retries)
 * until it returns; settling needs every holder to answer, so availability under partitions is low by
 * design (safety first). `mem` has no durability: a crash loses its data. Tombstones are kept forever.
 */
export * from './placement.js';
export * from './engine.js';
export * from './local.js';
export * from './core.js';
export * from './shard.js';
export * from './program.js';
export * from './group.js';
export * from './client.js';
