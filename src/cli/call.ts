/**
 * `npm run call -- --cluster DIR NODE SERVICE METHOD [ARGS_JSON]`: calls one service method on one node of
 * a running cluster and prints the answer, from a short-lived client node of its own (loopback, an
 * ephemeral port; the cluster's secret from DISTRIBUTION_SECRET, as for the cluster). DIR is the data
 * directory `npm run cluster` prints, where it writes `directory.json` (node id -> host:port); or name
 * the nodes with `--node ID=HOST:PORT` (repeatable).
 *
 *   npm run call -- --cluster /tmp/distribution-cluster-XXXX n1 kv put '[{"name": "ada"}, "user-1"]'
 *   npm run call -- --cluster /tmp/distribution-cluster-XXXX n2 kv get '["user-1"]'
 *
 * Prints the value as JSON (or Node's inspection of it when JSON cannot carry it) and exits 0; a remote
 * error prints its code and message on stderr and exits 1; bad usage exits 2.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DistNode } from '../protocols/node/node.js';
import { clusterDirectoryFile, formatAddress, toDirectory, type Directory } from '../runtime/config.js';
import { renderAnswer } from './answer.js';
import { createRuntime, type Runtime } from '../runtime/index.js';

const callTimeoutMsDefault = 5_000;
const usage = `usage: npm run call -- (--cluster DIR | --node ID=HOST:PORT ...) [--timeout-ms MS] [--gid GID]
                       NODE SERVICE METHOD [ARGS_JSON]
  --cluster      the data directory of a running \`npm run cluster\` (it holds ${clusterDirectoryFile})
  --node         a node's address, instead of --cluster (repeatable)
  --timeout-ms   give up on the answer after this long (default ${callTimeoutMsDefault})
  --gid          the group whose service to call (default local)
  ARGS_JSON      the method's arguments as a JSON array (default [])`;

interface CallOptions {
  readonly directory: Directory;
  readonly node: string;
  readonly service: string;
  readonly method: string;
  readonly args: unknown[];
  readonly timeoutMs: number;
  readonly gid: string;
}

function fail(message: string): never {
  process.stderr.write(`call: ${message}\n${usage}\n`);
  process.exit(2);
}

function readDirectory(clusterDir: string | undefined, nodes: readonly string[]): Record<string, string> {
  if (clusterDir !== undefined) {
    try {
      return JSON.parse(readFileSync(join(clusterDir, clusterDirectoryFile), 'utf8')) as Record<string, string>;
    } catch (error) {
      fail(`cannot read ${join(clusterDir, clusterDirectoryFile)}: ${(error as Error).message}`);
    }
  }
  if (nodes.length === 0) fail('name the cluster with --cluster DIR or its nodes with --node ID=HOST:PORT');
  return Object.fromEntries(nodes.map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) fail(`--node ${entry}: expected ID=HOST:PORT`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  }));
}

function parseOptions(argv: string[]): CallOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      cluster: { type: 'string' }, node: { type: 'string', multiple: true }, 'timeout-ms': { type: 'string' },
      gid: { type: 'string', default: 'local' }, help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  if (positionals.length < 3 || positionals.length > 4) fail('expected NODE SERVICE METHOD [ARGS_JSON]');
  const [node, service, method, argsText] = positionals as [string, string, string, string | undefined];
  let args: unknown = [];
  if (argsText !== undefined) {
    try {
      args = JSON.parse(argsText);
    } catch {
      fail('ARGS_JSON must be JSON');
    }
  }
  if (!Array.isArray(args)) fail('ARGS_JSON must be a JSON array');
  const timeoutMs = values['timeout-ms'] === undefined ? callTimeoutMsDefault : Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) fail('--timeout-ms must be a positive integer');
  let directory: Directory;
  try {
    directory = toDirectory(readDirectory(values.cluster, values.node ?? [])); // a bad id or address is a usage error
  } catch (error) {
    fail((error as Error).message);
  }
  if (!directory.has(node)) fail(`node ${node} is not in the directory (${[...directory.keys()].join(', ')})`);
  return { directory, node, service, method, args, timeoutMs, gid: values.gid! };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dataDir = mkdtempSync(join(tmpdir(), 'distribution-call-'));
  let runtime: Runtime | undefined;
  let exitCode = 0;
  try {
    runtime = await createRuntime({
      nodeId: `call-${process.pid}`, dataDir, directory: options.directory, secret: process.env['DISTRIBUTION_SECRET'] || undefined,
    });
    const node = runtime.run((env) => {
      const client = new DistNode(env);
      return { stop: () => client.stop(), inspect: () => client };
    }).inspect?.() as DistNode;
    const [err, value] = await new Promise<[Error | null, unknown]>((resolve) => {
      node.callRemote(options.node, options.service, options.method, options.args, (e, v) => resolve([e, v]), { timeoutMs: options.timeoutMs, gid: options.gid });
    });
    const rendered = renderAnswer(err, value, `${options.node} at ${formatAddress(options.directory.get(options.node)!)}`);
    process.stdout.write(rendered.stdout);
    process.stderr.write(rendered.stderr);
    exitCode = rendered.exitCode;
  } finally {
    await runtime?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

main().catch((error: unknown) => {
  process.stderr.write(`call: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(70);
});
