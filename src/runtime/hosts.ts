/**
 * `Hosts` as child processes (see launcher.ts). A spawned node gets a copy of the parent's directory
 * (which includes the parent); the parent learns the child's address when it reports it listens and
 * passes the updated directory on to the children it spawned before.
 */
import { join } from 'node:path';
import type { Hosts, NodeId, NodeSpec, SpawnResult } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { isValidNodeId, type Directory } from './config.js';
import { launchNode, type LaunchedNode } from './launcher.js';

/** A child that has not reported up within this time is killed and reported failed. */
export const spawnUpMsMax = 15_000;

export interface ProcessHostsOptions {
  readonly selfId: NodeId;
  readonly directory: Directory;
  readonly dataRoot: string;
  readonly secret: string | undefined;
  readonly programModules: readonly string[];
}

export class ProcessHosts implements Hosts {
  private readonly children = new Map<NodeId, LaunchedNode>();
  private closed = false;

  constructor(private readonly options: ProcessHostsOptions) {}

  spawn(spec: NodeSpec, onUp: (result: SpawnResult) => void): void {
    assert(typeof onUp === 'function', 'hosts.spawn: onUp must be a function');
    const refusal = this.checkSpec(spec);
    if (refusal !== undefined) {
      setImmediate(() => onUp({ ok: false, error: refusal }));
      return;
    }
    let reported = false;
    const report = (result: SpawnResult): void => {
      if (reported) return;
      reported = true;
      clearTimeout(upTimer);
      onUp(result);
    };
    const launched = launchNode(
      {
        id: spec.id, program: spec.program, args: spec.args, dataDir: join(this.options.dataRoot, spec.id),
        directory: this.options.directory, ...(this.options.secret === undefined ? {} : { secret: this.options.secret }),
        programModules: this.options.programModules,
      },
      {
        onListening: (address) => {
          this.options.directory.set(spec.id, address);
          // Siblings spawned earlier learn where the new node listens (their copy of the directory is older).
          for (const [id, sibling] of this.children) if (id !== spec.id && sibling.child.connected) sibling.sendDirectory(this.options.directory);
        },
        onUp: () => report({ ok: true, id: spec.id }),
        onExit: (_code, _signal, failure) => {
          if (this.children.get(spec.id) === launched) this.children.delete(spec.id);
          report({ ok: false, error: failure ?? new DistError('E_HOST_EXITED', `node ${spec.id} exited`, { id: spec.id }) });
        },
      },
    );
    const upTimer = setTimeout(() => {
      report({ ok: false, error: new DistError('E_HOST_TIMEOUT', `node ${spec.id} not up within ${spawnUpMsMax} ms`, { id: spec.id }) });
      void launched.stop();
    }, spawnUpMsMax);
    this.children.set(spec.id, launched);
  }

  stop(id: NodeId): void {
    const launched = this.children.get(id);
    if (launched === undefined) return;
    this.children.delete(id);
    this.options.directory.delete(id);
    void launched.stop();
  }

  get running(): NodeId[] {
    return [...this.children.keys()].sort();
  }

  /** Stops every child this node spawned and waits until they have exited. */
  async close(): Promise<void> {
    this.closed = true;
    const stopping = [...this.children.values()].map((launched) => launched.stop());
    this.children.clear();
    await Promise.all(stopping);
  }

  private checkSpec(spec: NodeSpec): DistError | undefined {
    if (this.closed) return new DistError('E_HOST_CLOSED', 'hosts closed');
    if (!isValidNodeId(spec?.id)) return new DistError('E_HOST_BAD_SPEC', 'spec.id is not a valid node id');
    if (typeof spec.program !== 'string') return new DistError('E_HOST_BAD_SPEC', 'spec.program must be a string');
    if (spec.id === this.options.selfId || this.children.has(spec.id)) {
      return new DistError('E_NODE_EXISTS', `node ${spec.id} is already running`, { id: spec.id });
    }
    return undefined;
  }
}
