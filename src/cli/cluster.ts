#!/usr/bin/env node
/**
 * `npm run cluster -- --nodes 5`: starts a localhost cluster of real node processes running one program,
 * prints where each listens, and on Ctrl-C (SIGINT/SIGTERM) stops all of them and removes their data.
 *
 * Start-up is parallel: every child binds an ephemeral port (or --base-port + i) and reports it; once all
 * have, each receives the full directory and starts its program.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { assert } from '../lib/assert.js';
import { checkProtectedMode, clusterDirectoryFile, formatAddress, isValidNodeId, type Address, type Directory } from '../runtime/config.js';
import { launchNode, type LaunchedNode } from '../runtime/launcher.js';
import { lookupProgram, programNames } from '../runtime/programs.js';

const nodesMax = 64;
/** The whole cluster must report up within this long, or the launcher gives up and cleans up. */
const clusterUpMsMax = 20_000;

interface ClusterOptions {
  readonly nodes: number;
  readonly program: string;
  readonly host: string;
  readonly basePort: number | undefined;
  readonly dataDir: string | undefined;
  readonly args: Record<string, unknown>;
  readonly durationMs: number | undefined;
  readonly quiet: boolean;
  readonly programModules: string[];
}

const usage = `usage: npm run cluster -- [--nodes N] [--program NAME] [--host H] [--base-port P]
                          [--data-dir DIR] [--args JSON] [--module FILE.js]... [--duration-ms MS] [--quiet]
  --nodes        number of node processes, 1..${nodesMax} (default 5)
  --program      registered program to run (default: broadcast if built, else ping)
  --host         bind address (default 127.0.0.1; anything else needs DISTRIBUTION_SECRET)
  --base-port    node i listens on base-port + i - 1 (default: ephemeral ports)
  --data-dir     keep node data here (default: a temp directory removed on exit)
  --args         JSON object merged into the program args ({ peers } is always set)
  --module       built JS module that registers extra programs (repeatable)
  --duration-ms  stop by itself after this long (default: run until Ctrl-C)
  --quiet        hide the nodes' stderr`;

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n${usage}\n`);
  process.exit(64);
}

function parseOptions(argv: string[]): ClusterOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '5' }, program: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' },
      'base-port': { type: 'string' }, 'data-dir': { type: 'string' }, args: { type: 'string', default: '{}' },
      module: { type: 'string', multiple: true, default: [] }, 'duration-ms': { type: 'string' }, quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > nodesMax) fail(`--nodes must be an integer in 1..${nodesMax}`);
  const basePort = values['base-port'] === undefined ? undefined : Number(values['base-port']);
  if (basePort !== undefined && (!Number.isInteger(basePort) || basePort < 1 || basePort + nodes - 1 > 65_535)) fail('--base-port must leave room for every node below 65536');
  const durationMs = values['duration-ms'] === undefined ? undefined : Number(values['duration-ms']);
  if (durationMs !== undefined && (!Number.isFinite(durationMs) || durationMs < 0)) fail('--duration-ms must be a number >= 0');
  let args: unknown;
  try {
    args = JSON.parse(values.args!);
  } catch {
    fail('--args must be JSON');
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) fail('--args must be a JSON object');
  return {
    nodes, basePort, durationMs, host: values.host!, dataDir: values['data-dir'], args: args as Record<string, unknown>,
    program: values.program ?? (lookupProgram('broadcast') !== undefined ? 'broadcast' : 'ping'),
    quiet: values.quiet === true, programModules: (values.module ?? []).map((path) => resolve(path)),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const modulePath of options.programModules) await import(new URL(`file://${modulePath}`).href);
  if (lookupProgram(options.program) === undefined) fail(`unknown program ${options.program}; known: ${programNames().join(', ')}`);
  const secret = process.env['DISTRIBUTION_SECRET'] || undefined;
  const protectedError = checkProtectedMode(options.host, secret);
  if (protectedError !== undefined) fail(protectedError.message);

  const startMs = performance.now();
  const ownsDataDir = options.dataDir === undefined;
  const dataRoot = options.dataDir ?? mkdtempSync(join(tmpdir(), 'distribution-cluster-'));
  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  assert(ids.every(isValidNodeId), 'generated node ids are valid');
  const directory: Directory = new Map();
  const nodes = new Map<string, LaunchedNode>();
  let stopping = false;

  const stopAll = async (exitCode: number, why: string): Promise<never> => {
    if (!stopping) {
      stopping = true;
      process.stdout.write(`\nstopping ${nodes.size} nodes (${why})\n`);
      await Promise.all([...nodes.values()].map((node) => node.stop()));
      if (ownsDataDir) rmSync(dataRoot, { recursive: true, force: true });
      process.stdout.write('all nodes stopped\n');
    }
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stopAll(0, 'SIGINT'));
  process.on('SIGTERM', () => void stopAll(0, 'SIGTERM'));

  const listening = new Map<string, Address>();
  const up = new Set<string>();
  const allUp = new Promise<void>((resolveUp, rejectUp) => {
    const giveUp = setTimeout(() => rejectUp(new Error(`cluster not up within ${clusterUpMsMax} ms`)), clusterUpMsMax);
    for (const [index, id] of ids.entries()) {
      const node = launchNode(
        {
          id, program: options.program, args: { ...options.args, peers: ids }, dataDir: join(dataRoot, id),
          listen: { host: options.host, port: options.basePort === undefined ? 0 : options.basePort + index },
          directory, ...(secret === undefined ? {} : { secret }), programModules: options.programModules,
          waitForDirectory: true, stdio: options.quiet ? 'ignore' : 'inherit',
        },
        {
          onListening: (address) => {
            listening.set(id, address);
            directory.set(id, address);
            if (listening.size === ids.length) for (const each of nodes.values()) each.sendDirectory(directory);
          },
          onUp: () => {
            up.add(id);
            if (up.size === ids.length) {
              clearTimeout(giveUp);
              resolveUp();
            }
          },
          onExit: (code, signal, failure) => {
            nodes.delete(id);
            if (stopping) return;
            process.stdout.write(`node ${id} exited (code ${code}, signal ${signal})${failure ? `: ${failure.message}` : ''}\n`);
            if (!up.has(id)) rejectUp(failure ?? new Error(`node ${id} failed to start`));
            else if (nodes.size === 0) void stopAll(1, 'every node exited');
          },
        },
      );
      nodes.set(id, node);
    }
  });
  try {
    await allUp;
  } catch (error) {
    process.stderr.write(`cluster: ${(error as Error).message}\n`);
    await stopAll(1, 'start failed');
  }
  const upMs = performance.now() - startMs;
  // Where each node listens, for clients (`npm run call -- --cluster DIR ...`).
  const directoryPath = join(dataRoot, clusterDirectoryFile);
  writeFileSync(directoryPath, `${JSON.stringify(Object.fromEntries(ids.map((id) => [id, formatAddress(listening.get(id)!)])), null, 2)}\n`);
  printTable(ids, listening, nodes, options.program, dataRoot);
  process.stdout.write(`directory ${directoryPath} (npm run call -- --cluster ${dataRoot} NODE SERVICE METHOD [ARGS_JSON])\n`);
  process.stdout.write(`cluster up: ${ids.length} nodes in ${upMs.toFixed(0)} ms (process start to all up: ${performance.now().toFixed(0)} ms); Ctrl-C stops all\n`);
  if (options.durationMs !== undefined) setTimeout(() => void stopAll(0, 'duration elapsed'), options.durationMs);
}

function printTable(ids: readonly string[], listening: ReadonlyMap<string, Address>, nodes: ReadonlyMap<string, LaunchedNode>, program: string, dataRoot: string): void {
  process.stdout.write(`program ${program}, data in ${dataRoot}\n`);
  for (const id of ids) {
    const address = listening.get(id);
    process.stdout.write(`  ${id.padEnd(4)} ws://${address === undefined ? '?' : formatAddress(address)}  pid ${nodes.get(id)?.child.pid ?? '?'}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`cluster: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(70);
});
