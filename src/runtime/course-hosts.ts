/**
 * `Hosts` for course-compatible nodes: `hosts.spawn` forks the facade's own entry (`--config
 * <serialized config>`, as the course's `distribution.js` is run) and reports up only once the child's
 * HTTP server listens. The child tells us over IPC:
 *
 *   child -> parent  { type: 'listening' }                 its server accepts PUTs
 *                    { type: 'failed', code, message }     it could not listen (port in use, ...)
 *
 * After that the IPC channel and the child are unref'd, so a parent process can exit while children run;
 * a child exits when its parent goes away (the channel disconnects), so no node outlives its test run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Hosts, NodeId, NodeSpec, SpawnResult } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { addressOf } from '../protocols/node/id.js';
import { serialize } from '../serialize/index.js';

/** A child that has not reported listening within this time is killed and reported failed. */
export const courseSpawnUpMsMax = 15_000;
/** After SIGTERM a stopped child gets this long before SIGKILL. */
export const courseStopGraceMs = 2_000;

export type CourseChildMessage = { readonly type: 'listening' } | { readonly type: 'failed'; readonly code: string; readonly message: string };

export interface CourseHostsOptions {
  readonly selfId: NodeId;
  /** The script a child runs: the facade entry that understands `--config`. */
  readonly entryPath: () => string;
}

function isChildMessage(m: unknown): m is CourseChildMessage {
  return typeof m === 'object' && m !== null && ((m as { type?: unknown }).type === 'listening' || (m as { type?: unknown }).type === 'failed');
}

export class CourseProcessHosts implements Hosts {
  private readonly children = new Map<NodeId, ChildProcess>();
  /** Told when a child that was up has exited (stopped, killed or crashed). */
  onExited: ((id: NodeId) => void) | undefined;

  constructor(private readonly options: CourseHostsOptions) {}

  /** `spec.args.config` is the course config (`{ip, port, onStart?, ...}`), shipped in the course format. */
  spawn(spec: NodeSpec, onUp: (result: SpawnResult) => void): void {
    assert(typeof onUp === 'function', 'hosts.spawn: onUp must be a function');
    const refuse = (error: DistError): void => void setImmediate(() => onUp({ ok: false, error: error as DistError & { code: string } }));
    if (spec.id === this.options.selfId || this.children.has(spec.id)) {
      return refuse(new DistError('E_NODE_EXISTS', `node ${spec.id} is already running`, { id: spec.id }));
    }
    const config = (spec.args as { config?: unknown } | undefined)?.config ?? addressOf(spec.id);
    let configText: string;
    try {
      configText = serialize(config);
    } catch (cause) {
      return refuse(new DistError('E_STATUS_BAD_CONFIG', 'spawn config cannot be serialized', { message: (cause as Error)?.message }));
    }
    const child = fork(this.options.entryPath(), ['--config', configText], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.children.set(spec.id, child);
    let reported = false;
    let up = false;
    const report = (result: SpawnResult): void => {
      if (reported) return;
      reported = true;
      clearTimeout(upTimer);
      onUp(result);
    };
    const upTimer = setTimeout(() => {
      report({ ok: false, error: new DistError('E_HOST_TIMEOUT', `node ${spec.id} not listening within ${courseSpawnUpMsMax} ms`, { id: spec.id }) as DistError & { code: string } });
      child.kill('SIGKILL');
    }, courseSpawnUpMsMax);
    child.on('message', (message: unknown) => {
      if (!isChildMessage(message)) return;
      if (message.type === 'failed') return report({ ok: false, error: new DistError(message.code, message.message, { id: spec.id }) as DistError & { code: string } });
      // Up: neither the channel nor the child may keep this process alive any more.
      child.channel?.unref();
      child.unref();
      up = true;
      report({ ok: true, id: spec.id });
    });
    child.on('error', (cause) => report({ ok: false, error: new DistError('E_HOST_SPAWN', `cannot start node ${spec.id}: ${cause.message}`, { id: spec.id }) as DistError & { code: string } }));
    child.on('exit', (code, signal) => {
      if (this.children.get(spec.id) === child) this.children.delete(spec.id);
      if (up) this.onExited?.(spec.id);
      report({ ok: false, error: new DistError('E_HOST_EXITED', `node ${spec.id} exited (code ${code}, signal ${signal})`, { id: spec.id }) as DistError & { code: string } });
    });
  }

  /** SIGTERM, then SIGKILL after the grace period. Unknown ids are ignored. */
  stop(id: NodeId): void {
    const child = this.children.get(id);
    if (child === undefined) return;
    this.children.delete(id);
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), courseStopGraceMs);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }

  get running(): NodeId[] {
    return [...this.children.keys()].sort();
  }

  /** Stops every child (tests call this; a process exiting takes its children with it anyway). */
  stopAll(): void {
    for (const id of [...this.children.keys()]) this.stop(id);
  }
}
