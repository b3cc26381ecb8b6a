/**
 * Shared helpers for the facade tests. The facade is loaded with `require`, as course code loads it:
 * through the package's `./distribution` export (`require('distribution/distribution')`), or as a plain
 * folder path whose package.json names the CommonJS bundle (how Jest 27 resolves it, ignoring `exports`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Distribution, bootstrap as Bootstrap } from '../../src/facade/index.js';
import { setProcessNode } from '../../src/protocols/node/index.js';

export type { Distribution };
export type BootstrapFn = typeof Bootstrap;
export type Cb = (err: unknown, value?: unknown) => void;
export type Service = Record<string, (...args: unknown[]) => void>;

/** The package root (dist/test/facade/ -> ../../..). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const bundlePath = join(packageRoot, 'distribution', 'index.js');
export const referenceEntry = join(packageRoot, 'node_modules', '@brown-ds', 'distribution', 'distribution.js');

const requireHere = createRequire(import.meta.url);

/** `require('distribution/distribution')`, resolved by Node through the package's self-reference. */
export function requireFacade(): BootstrapFn {
  return requireHere('distribution/distribution') as BootstrapFn;
}

/** Waiting for a node or a reply gives up after this long (a bound, not a performance threshold). */
export const waitMsMax = 8_000;

/** Polls `predicate` every 20 ms until it holds; throws after `budgetMs` (a bound, not a speed check). */
export async function until(predicate: () => Promise<boolean> | boolean, budgetMs = waitMsMax): Promise<void> {
  const startMs = performance.now();
  while (!(await predicate())) {
    if (performance.now() - startMs > budgetMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A free loopback port: bound once with port 0, then released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Calls a course method and resolves with its `[err, value]`. */
export function call(service: unknown, method: string, ...args: unknown[]): Promise<[any, any]> {
  return new Promise((resolve) => (service as Service)[method]!(...args, (err: unknown, value: unknown) => resolve([err, value])));
}

/** Starts a facade node on a free loopback port. */
export async function startNode(bootstrap: BootstrapFn, extra: Record<string, unknown> = {}): Promise<Distribution> {
  const port = await freePort();
  const distribution = bootstrap({ ip: '127.0.0.1', port, ...extra });
  await new Promise<void>((resolve, reject) => distribution.node.start((err) => (err ? reject(err) : resolve())));
  return distribution;
}

/** Closes a node started in this process (never `status.stop`: that would end the test process), and
 * unbinds the process-wide node and global that `bootstrap` set, so later test files start clean. */
export function closeNode(distribution: Distribution | undefined): Promise<void> {
  setProcessNode(undefined);
  delete (globalThis as { distribution?: unknown }).distribution;
  const server = distribution?.node.server;
  if (server === undefined || !server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface RawReply {
  readonly status: number;
  readonly body: string;
}

/** One raw HTTP request to a node. */
export function rawRequest(port: number, method: string, path: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A child process running a course node (ours or the reference), killed by `stop`. */
export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `entry ...args` (a course node's flags) and resolves once `port` accepts connections. */
export async function startProcess(entry: string, args: readonly string[], port: number, cwd?: string): Promise<NodeProcess> {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'ignore', 'inherit'], ...(cwd === undefined ? {} : { cwd }) });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  const startMs = performance.now();
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || performance.now() - startMs > waitMsMax) {
      await stop();
      throw new Error(`node process on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, port, stop };
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs a command to completion with a time bound; resolves with its exit code and output. */
export function runToExit(command: string, args: readonly string[], timeoutMs: number, cwd = packageRoot): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
