/**
 * A MapReduce cluster on the real runtime for benchmarks: three worker processes on loopback (the
 * `node` program, each with its own LMDB) and a coordinator node in this process; input loaded into
 * the workers' stores with `mr.put` (not timed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, launchNode, type Address, type Directory, type LaunchedNode, type Runtime } from '../src/runtime/index.js';
import { createNodeProgram, type GroupsLayer } from '../src/protocols/groups/index.js';
import type { DistNode } from '../src/protocols/node/index.js';

export type Doc = [string, unknown];
const host = '127.0.0.1';
export const workerIds = ['w1', 'w2', 'w3'];
/** One load call carries at most this much (the transport's payload limit is 4 MiB). */
const loadCallCharsMax = 2 * 1024 * 1024;

export interface Cluster {
  readonly runtime: Runtime;
  readonly node: DistNode;
  readonly workers: Map<string, LaunchedNode>;
  readonly dataRoot: string;
  readonly directory: Directory;
}

const workerArgs = { antiEntropyMs: 0, callTimeoutMs: 60_000 };

/** Launches worker `id` over its data directory (a restart finds its store as it was) and resolves
 * with its address once it listens. */
function launchWorker(id: string, dataRoot: string, directory: Directory, workers: Map<string, LaunchedNode>): Promise<Address> {
  return new Promise((resolve, reject) => {
    workers.set(id, launchNode({
      id, program: 'node', args: workerArgs, dataDir: join(dataRoot, id), listen: { host, port: 0 }, directory, waitForDirectory: true, stdio: 'inherit',
    }, {
      onListening: (address: Address) => {
        directory.set(id, address);
        resolve(address);
      },
      onExit: (code, _signal, failure) => failure !== undefined && reject(failure ?? new Error(`worker ${id} exited ${code}`)),
    }));
  });
}

/** Restarts a killed worker on its old store (LMDB keeps what was loaded) and tells everyone its new
 * address; resolves once it runs its program. */
export async function restartWorker(c: Cluster, id: string): Promise<void> {
  const address = await launchWorker(id, c.dataRoot, c.directory, c.workers);
  c.runtime.directory.set(id, address); // the coordinator's own copy
  const up = new Promise<void>((resolve) => (c.workers.get(id) as LaunchedNode).child.once('message', () => resolve()));
  for (const worker of c.workers.values()) if (worker.child.connected) worker.sendDirectory(c.directory);
  await up;
}

/** Workers listen on ephemeral ports (fixed ones collide with outgoing connections on a busy machine);
 * each waits for the full directory, which it gets once the coordinator listens too. */
export async function startCluster(): Promise<Cluster> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'distribution-bench-mr-'));
  const directory: Directory = new Map();
  const workers = new Map<string, LaunchedNode>();
  await Promise.all(workerIds.map((id) => launchWorker(id, dataRoot, directory, workers)));
  const runtime = await createRuntime({ nodeId: 'c0', dataDir: join(dataRoot, 'c0'), listen: { host, port: 0 }, directory, seed: 'bench-mr' });
  directory.set('c0', runtime.address);
  await Promise.all(workerIds.map((id) => new Promise<void>((resolve) => {
    const worker = workers.get(id) as LaunchedNode;
    worker.child.once('message', () => resolve()); // `up`, once it has the directory and runs its program
    worker.sendDirectory(directory);
  })));
  const node = (runtime.run(createNodeProgram, workerArgs).inspect?.() as GroupsLayer).node;
  return { runtime, node, workers, dataRoot, directory };
}

export async function stopCluster(c: Cluster): Promise<void> {
  await Promise.all([...c.workers.values()].map((w) => w.stop()));
  await c.runtime.close();
  rmSync(c.dataRoot, { recursive: true, force: true });
}

export function call(node: DistNode, to: string, method: string, args: unknown[]): Promise<unknown> {
  return node.call(to, 'mr', method, args, { timeoutMs: 120_000, idempotent: false });
}

/** Puts each document on `copies` of `workers` (round robin), in calls of at most loadCallCharsMax. */
export async function load(node: DistNode, gid: string, docs: readonly Doc[], workers: readonly string[], copies: number): Promise<void> {
  const perWorker = new Map<string, Doc[]>(workers.map((w) => [w, []]));
  docs.forEach((doc, i) => {
    for (let c = 0; c < copies; c++) perWorker.get(workers[(i + c) % workers.length] as string)?.push(doc);
  });
  await Promise.all([...perWorker].map(async ([worker, mine]) => {
    for (let i = 0; i < mine.length;) {
      const batch: Doc[] = [];
      let chars = 0;
      while (i < mine.length && (batch.length === 0 || chars + sizeOf(mine[i] as Doc) <= loadCallCharsMax)) {
        chars += sizeOf(mine[i] as Doc);
        batch.push(mine[i++] as Doc);
      }
      await call(node, worker, 'put', [gid, batch]);
    }
  }));
}

const sizeOf = ([key, value]: Doc): number => key.length + (typeof value === 'string' ? value.length : JSON.stringify(value).length);
