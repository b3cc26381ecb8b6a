/** Shared helpers for runtime tests: temp directories, loopback runtimes, bounded waiting. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime, type RuntimeConfig } from '../../src/runtime/index.js';

/** Waiting for a condition in a test gives up after this long (a bound, not a performance threshold). */
export const waitMsMax = 5_000;

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `distribution-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `predicate` on real timers until it holds; rejects after `budgetMs`. */
export function until(predicate: () => boolean, budgetMs = waitMsMax, what = 'condition'): Promise<void> {
  const startMs = performance.now();
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (predicate()) return resolve();
      if (performance.now() - startMs > budgetMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 2);
    };
    poll();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A set of loopback runtimes sharing one directory, cleaned up by `close`. */
export class LocalCluster {
  readonly runtimes = new Map<string, Runtime>();
  private readonly dir = tempDir('cluster');

  static async start(ids: readonly string[], extra: Partial<RuntimeConfig> = {}): Promise<LocalCluster> {
    const cluster = new LocalCluster();
    for (const id of ids) await cluster.add(id, extra);
    return cluster;
  }

  async add(id: string, extra: Partial<RuntimeConfig> = {}): Promise<Runtime> {
    const directory = new Map([...this.runtimes.values()].map((r) => [r.env.nodeId, r.address] as const));
    const runtime = await createRuntime({ nodeId: id, dataDir: join(this.dir.path, id), directory, seed: `test/${id}`, ...extra });
    // Everyone learns everyone: the directory is per runtime.
    for (const other of this.runtimes.values()) other.directory.set(id, runtime.address);
    this.runtimes.set(id, runtime);
    return runtime;
  }

  get(id: string): Runtime {
    const runtime = this.runtimes.get(id);
    if (runtime === undefined) throw new Error(`no runtime ${id}`);
    return runtime;
  }

  async close(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.close()));
    this.runtimes.clear();
    this.dir.remove();
  }
}
