/**
 * Starts one node as a child OS process running the built JavaScript (`node dist/src/runtime/node-main.js`,
 * never a TypeScript loader) and speaks a tiny IPC protocol with it:
 *
 *   child -> parent  { type: 'listening', id, host, port }   bound, accepting connections
 *                    { type: 'up', id }                      program started
 *                    { type: 'failed', code, message }       could not start
 *   parent -> child  { type: 'directory', entries }          (only with waitForDirectory) the full
 *                                                             directory; the child then starts its program
 *
 * The child dies with its parent: it exits when the IPC channel disconnects.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { encode } from '../serialize/index.js';
import { formatAddress, type Address, type Directory } from './config.js';

export const nodeConfigEnvVar = 'DISTRIBUTION_NODE';
/** After SIGTERM a child gets this long to close lmdb and sockets before SIGKILL. */
export const stopGraceMs = 2_000;

/** What the child reads from `DISTRIBUTION_NODE` (JSON). The secret travels in DISTRIBUTION_SECRET. */
export interface ChildNodeConfig {
  readonly id: NodeId;
  readonly program: string;
  /** The program args, encoded with the project serializer, base64. */
  readonly argsBase64: string;
  readonly listen: Address;
  readonly directory: Readonly<Record<NodeId, string>>;
  readonly dataDir: string;
  readonly seed?: string;
  readonly tracePath?: string;
  readonly programModules: readonly string[];
  readonly waitForDirectory: boolean;
}

export type ChildMessage =
  | { readonly type: 'listening'; readonly id: NodeId; readonly host: string; readonly port: number }
  | { readonly type: 'up'; readonly id: NodeId }
  | { readonly type: 'failed'; readonly code: string; readonly message: string };

export type ParentMessage = { readonly type: 'directory'; readonly entries: Readonly<Record<NodeId, string>> };

export interface LaunchOptions {
  readonly id: NodeId;
  readonly program: string;
  readonly args?: unknown;
  readonly dataDir: string;
  readonly listen?: Address;
  readonly directory: Directory;
  readonly secret?: string;
  readonly seed?: string;
  readonly tracePath?: string;
  readonly programModules?: readonly string[];
  readonly waitForDirectory?: boolean;
  /** 'inherit' shows the child's stderr (debug logs) in the parent's terminal. */
  readonly stdio?: 'inherit' | 'ignore';
}

export interface LaunchEvents {
  onListening?(address: Address): void;
  onUp?(): void;
  /** Called once, when the child has exited. `failure` is set if it never came up. */
  onExit?(code: number | null, signal: NodeJS.Signals | null, failure: DistError | undefined): void;
}

export interface LaunchedNode {
  readonly id: NodeId;
  readonly child: ChildProcess;
  sendDirectory(directory: Directory): void;
  /** SIGTERM, then SIGKILL after `stopGraceMs`; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * The node process's entry: the one-file bundle the build makes of node-main.js (it loads ~80 ms faster
 * than the module graph), unless the node imports extra program modules: those import the program
 * registry and the serializer from dist/ and must share them with the entry.
 */
export function nodeMainPath(programModules: readonly string[] = []): string {
  const bundle = fileURLToPath(new URL('./node-main.bundle.mjs', import.meta.url));
  if (programModules.length === 0 && existsSync(bundle)) return bundle;
  return fileURLToPath(new URL('./node-main.js', import.meta.url));
}

export function directoryToRecord(directory: Directory): Record<NodeId, string> {
  const record: Record<NodeId, string> = {};
  for (const [id, address] of [...directory.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) record[id] = formatAddress(address);
  return record;
}

export function launchNode(options: LaunchOptions, events: LaunchEvents): LaunchedNode {
  const config: ChildNodeConfig = {
    id: options.id,
    program: options.program,
    argsBase64: Buffer.from(encode(options.args ?? null)).toString('base64'),
    listen: options.listen ?? { host: '127.0.0.1', port: 0 },
    directory: directoryToRecord(options.directory),
    dataDir: options.dataDir,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.tracePath === undefined ? {} : { tracePath: options.tracePath }),
    programModules: options.programModules ?? [],
    waitForDirectory: options.waitForDirectory ?? false,
  };
  const env: NodeJS.ProcessEnv = { ...process.env, [nodeConfigEnvVar]: JSON.stringify(config) };
  if (options.secret !== undefined) env['DISTRIBUTION_SECRET'] = options.secret;
  const stdio = options.stdio ?? 'inherit';
  // execArgv: [] so the child never inherits a loader, inspector or test-runner flags from the parent.
  const child = fork(nodeMainPath(config.programModules), [], { env, execArgv: [], stdio: ['ignore', stdio, stdio, 'ipc'], serialization: 'json' });
  return track(options.id, child, events);
}

function track(id: NodeId, child: ChildProcess, events: LaunchEvents): LaunchedNode {
  let up = false;
  let failure: DistError | undefined;
  let exited = false;
  const exitWaiters: (() => void)[] = [];
  child.on('message', (message: ChildMessage) => {
    if (message?.type === 'listening') events.onListening?.({ host: message.host, port: message.port });
    else if (message?.type === 'up') {
      up = true;
      events.onUp?.();
    } else if (message?.type === 'failed') failure = new DistError(message.code, message.message, { id });
  });
  child.on('error', (error) => {
    failure ??= new DistError('E_HOST_SPAWN', `cannot start node ${id}: ${error.message}`, { id }, { cause: error });
  });
  child.on('exit', (code, signal) => {
    exited = true;
    if (!up) failure ??= new DistError('E_HOST_EXITED', `node ${id} exited before it was up (code ${code}, signal ${signal})`, { id });
    events.onExit?.(code, signal, up ? undefined : failure);
    for (const waiter of exitWaiters.splice(0)) waiter();
  });
  return {
    id,
    child,
    sendDirectory(directory) {
      assert(child.connected, 'sendDirectory: child not connected');
      const message: ParentMessage = { type: 'directory', entries: directoryToRecord(directory) };
      child.send(message);
    },
    stop() {
      if (exited) return Promise.resolve();
      return new Promise<void>((resolve) => {
        exitWaiters.push(resolve);
        child.kill('SIGTERM');
        setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, stopGraceMs).unref();
      });
    },
  };
}
