/**
 * The Env: the only door through which protocols and apps reach time, timers, randomness, the network,
 * the disk, processes and the outside web. Two implementations exist: `src/sim/` (virtual time, one
 * seed decides everything) and `src/runtime/` (real clock, ws, lmdb, child processes). They never import
 * each other; everything under `src/protocols/` and `src/apps/` is written against this file alone.
 *
 * Shape decisions and why:
 * - Payloads are bytes, so nothing can alias state across nodes in the simulator and every message
 *   passes through the real serializer.
 * - Handlers run to completion and are synchronous: the simulator stays deterministic and fast.
 * - Disk reads are synchronous and see every write issued so far (read-your-writes); durability is a
 *   callback. A crash before `onDurable` may lose the write. Raft's persist-before-send becomes
 *   "send in onDurable".
 * - Nodes are built by a factory `(env, args) => NodeProgram`, so a crash drops the object and a restart
 *   calls the factory again over the durable disk.
 */

/** A node's name in the cluster, e.g. `n1`. The runtime maps it to a host:port through its directory. */
export type NodeId = string;
/** Milliseconds. Virtual in the simulator, real in the runtime. */
export type Millis = number;
export type TimerId = number;

export interface Clock {
  /** Monotonic milliseconds. Each node may see a skewed clock in the simulator. */
  now(): Millis;
}

export interface Timers {
  /** Calls `onFire` once after `delayMs` (>= 0). Timers die with their node on a crash. */
  set(delayMs: Millis, onFire: () => void): TimerId;
  /** Cancelling an unknown or already fired timer is a no-op. */
  cancel(id: TimerId): void;
}

/** A deterministic random stream. `fork(label)` gives an independent stream, so a new draw in one module
 * does not shift every other module's draws. */
export interface Random {
  /** Integer in [minInclusive, maxExclusive). */
  int(minInclusive: number, maxExclusive: number): number;
  /** Float in [0, 1). */
  float(): number;
  /** True with probability numerator / denominator. */
  chance(numerator: number, denominator: number): boolean;
  fork(label: string): Random;
}

export type MessageHandler = (from: NodeId, payload: Uint8Array) => void;

/** A datagram network by node id and channel. Delivery is not guaranteed: messages may be delayed,
 * dropped, duplicated or reordered (in the simulator by the fault plan; in the runtime by crashes and
 * reconnects). Protocols that need reliability build it (ids, retries, acks). */
export interface Net {
  /**
   * `awaitsReply`: a hint that `to` is expected to answer soon (an RPC call). It changes nothing about
   * delivery; the real runtime keeps its event loop polling while answers are owed (runtime/busy-poll.ts),
   * the simulator ignores it.
   */
  send(to: NodeId, channel: string, payload: Uint8Array, awaitsReply?: boolean): void;
  /** One handler per channel; listening again replaces it. */
  listen(channel: string, onMessage: MessageHandler): void;
  /** Largest payload `send` accepts; bigger payloads are refused with E_NET_TOO_LARGE. */
  readonly payloadBytesMax: number;
}

/**
 * One op of a disk batch: a put (`value`) or a delete (`value: undefined`). A disk copies a put's bytes
 * before `write` returns, so the caller may reuse its buffer; `frozen: true` is the caller's promise that
 * nobody will ever change these bytes, and lets a disk keep them without the copy.
 */
export type DiskOp = { readonly key: string; readonly value: Uint8Array; readonly frozen?: boolean } | { readonly key: string; readonly value: undefined };
export type DiskWriteResult = { readonly ok: true } | { readonly ok: false; readonly error: Error & { code: string } };

export interface DiskRange {
  /** Inclusive lower bound. */
  readonly start?: string;
  /** Exclusive upper bound. */
  readonly end?: string;
  readonly limit?: number;
  readonly reverse?: boolean;
}

/** An ordered key-value disk private to one node. Keys are strings ordered by code unit. */
export interface Disk {
  get(key: string): Uint8Array | undefined;
  /**
   * `get` without the copy, for hot read paths: `visit` sees the value's bytes, which stay valid only
   * until it returns (it must neither keep nor change them), and its result is returned; undefined when
   * the key is missing. Optional: a caller falls back to `get` on a disk without it.
   */
  read?<T>(key: string, visit: (bytes: Uint8Array) => T): T | undefined;
  scan(range: DiskRange): Iterable<[string, Uint8Array]>;
  /** Applies the batch atomically (visible to reads at once); `onDurable` fires once it is on disk, or
   * with an error, in which case none of the batch is applied. */
  write(batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void;
}

export interface NodeSpec {
  readonly id: NodeId;
  /** Name of a registered program (see `NodeFactory`). */
  readonly program: string;
  /** Program arguments; must survive the project's serializer. */
  readonly args?: unknown;
}

export type SpawnResult = { readonly ok: true; readonly id: NodeId } | { readonly ok: false; readonly error: Error & { code: string } };

export interface Hosts {
  /** Starts a node; `onUp` fires once it accepts messages. Sim: adds a simulated host. Real: a child process. */
  spawn(spec: NodeSpec, onUp: (result: SpawnResult) => void): void;
  /** Stops a node (its timers and memory are gone; its durable disk stays). */
  stop(id: NodeId): void;
}

export type WebResponse =
  | { readonly ok: true; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array }
  | { readonly ok: false; readonly error: Error & { code: string } };

export interface Web {
  /** Fetches a URL. Sim: a seeded synthetic web. Real: HTTP. */
  get(url: string, onResponse: (response: WebResponse) => void): void;
}

export type TraceFields = Readonly<Record<string, unknown>>;

export interface Trace {
  /** Records an event. Fields must be JSON-safe; the simulator hashes them, so keep them deterministic. */
  event(kind: string, fields?: TraceFields): void;
}

export interface Env {
  readonly nodeId: NodeId;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly net: Net;
  readonly disk: Disk;
  readonly hosts: Hosts;
  readonly web: Web;
  readonly trace: Trace;
}

/** What a node runs. `stop` is called on a clean stop (not on a crash). `inspect` lets simulator
 * checkers read a node's state without going through the network. */
export interface NodeProgram {
  stop?(): void;
  inspect?(): unknown;
}

export type NodeFactory = (env: Env, args: unknown) => NodeProgram;
