/**
 * Runtime configuration: defaults, validation (once, up front, naming the field and the allowed range),
 * addressing (node id -> host:port) and protected mode.
 *
 * Protected mode (like Redis): a node bound to a loopback address may run open; bound to anything else it
 * refuses to start without a cluster secret, because anyone who can reach the port could otherwise inject
 * messages into the cluster.
 */
import { DistError } from '../lib/errors.js';
import type { NodeId } from '../env/index.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** Where every known node listens. Mutable: spawned nodes and authenticated dialers are added at run time. */
export type Directory = Map<NodeId, Address>;
/** The file in a cluster's data directory that maps its node ids to `host:port` (`npm run cluster` writes it). */
export const clusterDirectoryFile = 'directory.json';

export interface NetLimits {
  /** Largest payload `send` accepts and a peer may deliver. */
  readonly payloadBytesMax: number;
  /** Largest encoded frame header ([from, channel]); bounds what a peer can make us decode. */
  readonly headerBytesMax: number;
  /** Frames waiting for one peer (down, connecting, or socket backed up); beyond it new frames are dropped. */
  readonly peerQueueFramesMax: number;
  readonly peerQueueBytesMax: number;
  /** Stop writing to a socket whose kernel/userland buffer holds more than this; frames wait in the queue. */
  readonly socketBufferedBytesHigh: number;
  /** A coalesced batch is cut into ws messages of at most this many bytes (a single big frame may exceed it). */
  readonly batchBytesMax: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  /** Consecutive failed dials before the queue for that peer is dropped and dialing stops until the next send. */
  readonly reconnectAttemptsMax: number;
  readonly connectTimeoutMs: number;
  /** Every connection is pinged this often; one silent for two intervals in a row is dropped (half-open peers). */
  readonly heartbeatIntervalMs: number;
  /** Open connections (in + out) a node accepts; more are refused. */
  readonly connectionsMax: number;
}

export const netLimitsDefault: NetLimits = Object.freeze({
  payloadBytesMax: 4 * 1024 * 1024,
  headerBytesMax: 1024,
  peerQueueFramesMax: 16 * 1024,
  peerQueueBytesMax: 16 * 1024 * 1024,
  socketBufferedBytesHigh: 4 * 1024 * 1024,
  batchBytesMax: 1024 * 1024,
  reconnectDelayMsMin: 25,
  reconnectDelayMsMax: 2_000,
  reconnectAttemptsMax: 10,
  connectTimeoutMs: 3_000,
  heartbeatIntervalMs: 5_000,
  connectionsMax: 1024,
});

export interface WebLimits {
  readonly timeoutMs: number;
  readonly bodyBytesMax: number;
}

export const webLimitsDefault: WebLimits = Object.freeze({ timeoutMs: 10_000, bodyBytesMax: 8 * 1024 * 1024 });

export interface RuntimeConfig {
  readonly nodeId: NodeId;
  /** Host and port to bind; default 127.0.0.1 and an ephemeral port. */
  readonly listen?: Partial<Address>;
  /** Other nodes; the node's own entry is filled in once it listens. */
  readonly directory?: Directory | Readonly<Record<NodeId, Address | string>>;
  /** Cluster secret; defaults to env DISTRIBUTION_SECRET. Required when bound to a non-loopback address. */
  readonly secret?: string;
  /** LMDB directory for this node. */
  readonly dataDir: string;
  /** Seed for `env.random`; default: a fresh crypto-random seed. */
  readonly seed?: string;
  readonly net?: Partial<NetLimits>;
  readonly web?: Partial<WebLimits>;
  /** Append trace events as NDJSON to this file (besides `debug` namespace distribution:trace). */
  readonly tracePath?: string;
  /** Modules (absolute paths to built JS) a spawned child imports to register extra programs. */
  readonly programModules?: readonly string[];
  /** Root under which `hosts.spawn` puts each child's data directory; default: the parent's dataDir/hosts. */
  readonly hostsDataRoot?: string;
}

export const nodeIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isValidNodeId(id: unknown): id is NodeId {
  return typeof id === 'string' && nodeIdPattern.test(id);
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Protected mode: returns a coded error when `host` is not loopback and there is no secret.
 * Pure, so tests can check the rule without binding to a public address.
 */
export function checkProtectedMode(host: string, secret: string | undefined): DistError | undefined {
  if (isLoopbackHost(host)) return undefined;
  if (secret !== undefined && secret.length > 0) return undefined;
  return new DistError(
    'E_RUNTIME_PROTECTED',
    `refusing to bind ${host} without a cluster secret (set DISTRIBUTION_SECRET or config.secret), or bind 127.0.0.1`,
    { host },
  );
}

/** Parses `host:port` (IPv6 in brackets: `[::1]:7000`). */
export function parseAddress(text: string): Address {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (match === null) throw new DistError('E_CONFIG', `address must be host:port, got ${JSON.stringify(text)}`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) throw new DistError('E_CONFIG', `address port must be in 1..65535, got ${port}`);
  return { host, port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function toDirectory(input: RuntimeConfig['directory']): Directory {
  const directory: Directory = new Map();
  if (input === undefined) return directory;
  const entries = input instanceof Map ? [...input.entries()] : Object.entries(input);
  for (const [id, value] of entries) {
    if (!isValidNodeId(id)) throw new DistError('E_CONFIG', `directory: node id ${JSON.stringify(id)} must match ${nodeIdPattern}`);
    directory.set(id, typeof value === 'string' ? parseAddress(value) : checkAddress(value, `directory.${id}`));
  }
  return directory;
}

function checkAddress(value: Address, field: string): Address {
  if (typeof value?.host !== 'string' || !Number.isInteger(value.port) || value.port < 1 || value.port > 65_535) {
    throw new DistError('E_CONFIG', `${field} must be { host: string, port: 1..65535 }`);
  }
  return { host: value.host, port: value.port };
}

function checkIntRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DistError('E_CONFIG', `${field} must be an integer in ${min}..${max}, got ${value}`);
  }
}

export function resolveNetLimits(partial: Partial<NetLimits> | undefined): NetLimits {
  const limits: NetLimits = { ...netLimitsDefault, ...partial };
  checkIntRange('net.payloadBytesMax', limits.payloadBytesMax, 1, 256 * 1024 * 1024);
  checkIntRange('net.headerBytesMax', limits.headerBytesMax, 64, 64 * 1024);
  checkIntRange('net.peerQueueFramesMax', limits.peerQueueFramesMax, 1, 1_000_000);
  checkIntRange('net.peerQueueBytesMax', limits.peerQueueBytesMax, 1, 1024 * 1024 * 1024);
  checkIntRange('net.socketBufferedBytesHigh', limits.socketBufferedBytesHigh, 1, 1024 * 1024 * 1024);
  checkIntRange('net.batchBytesMax', limits.batchBytesMax, 1024, 256 * 1024 * 1024);
  checkIntRange('net.reconnectDelayMsMin', limits.reconnectDelayMsMin, 1, 60_000);
  checkIntRange('net.reconnectDelayMsMax', limits.reconnectDelayMsMax, limits.reconnectDelayMsMin, 600_000);
  checkIntRange('net.reconnectAttemptsMax', limits.reconnectAttemptsMax, 1, 1_000);
  checkIntRange('net.connectTimeoutMs', limits.connectTimeoutMs, 1, 600_000);
  checkIntRange('net.heartbeatIntervalMs', limits.heartbeatIntervalMs, 10, 600_000);
  checkIntRange('net.connectionsMax', limits.connectionsMax, 1, 100_000);
  return limits;
}

export function resolveWebLimits(partial: Partial<WebLimits> | undefined): WebLimits {
  const limits: WebLimits = { ...webLimitsDefault, ...partial };
  checkIntRange('web.timeoutMs', limits.timeoutMs, 1, 600_000);
  checkIntRange('web.bodyBytesMax', limits.bodyBytesMax, 1, 1024 * 1024 * 1024);
  return limits;
}

export interface ResolvedConfig {
  readonly nodeId: NodeId;
  readonly listen: Address;
  readonly directory: Directory;
  readonly secret: string | undefined;
  readonly dataDir: string;
  readonly seed: string | undefined;
  readonly net: NetLimits;
  readonly web: WebLimits;
  readonly tracePath: string | undefined;
  readonly programModules: readonly string[];
  readonly hostsDataRoot: string | undefined;
}

/** Validates everything once; throws E_CONFIG naming the field, or E_RUNTIME_PROTECTED. */
export function resolveConfig(config: RuntimeConfig): ResolvedConfig {
  if (!isValidNodeId(config.nodeId)) throw new DistError('E_CONFIG', `nodeId must match ${nodeIdPattern}`);
  if (typeof config.dataDir !== 'string' || config.dataDir.length === 0) throw new DistError('E_CONFIG', 'dataDir must be a non-empty path');
  const host = config.listen?.host ?? '127.0.0.1';
  const port = config.listen?.port ?? 0;
  checkIntRange('listen.port', port, 0, 65_535);
  const secret = config.secret ?? (process.env['DISTRIBUTION_SECRET'] || undefined);
  const protectedError = checkProtectedMode(host, secret);
  if (protectedError !== undefined) throw protectedError;
  return {
    nodeId: config.nodeId,
    listen: { host, port },
    directory: toDirectory(config.directory),
    secret,
    dataDir: config.dataDir,
    seed: config.seed,
    net: resolveNetLimits(config.net),
    web: resolveWebLimits(config.web),
    tracePath: config.tracePath,
    programModules: config.programModules ?? [],
    hostsDataRoot: config.hostsDataRoot,
  };
}
