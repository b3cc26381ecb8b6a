/**
 * Entry point of a node process (`node dist/src/runtime/node-main.js`), started by launcher.ts with its
 * config in DISTRIBUTION_NODE. It listens, reports its address over IPC, optionally waits for the full
 * directory, runs the named program, and exits cleanly on SIGTERM/SIGINT or when its parent goes away.
 */
import { pathToFileURL } from 'node:url';
import createDebug from 'debug';
import { decode } from '../serialize/index.js';
import { DistError, hasCode } from '../lib/errors.js';
import { toDirectory } from './config.js';
import { nodeConfigEnvVar, type ChildMessage, type ChildNodeConfig, type ParentMessage } from './launcher.js';
import { lookupProgram, programNames } from './programs.js';
import { createRuntime, type Runtime } from './runtime.js';

const debugNode = createDebug('distribution:node');
/** A clean shutdown that takes longer than this is cut short. */
const shutdownMsMax = 3_000;

function report(message: ChildMessage): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

function readConfig(): ChildNodeConfig {
  const text = process.env[nodeConfigEnvVar];
  if (text === undefined) throw new DistError('E_CONFIG', `${nodeConfigEnvVar} is not set; node-main is started by the launcher`);
  return JSON.parse(text) as ChildNodeConfig;
}

/** Merges every directory the parent sends (the first one, with waitForDirectory, gates the program's
 * start; later ones tell this node where nodes spawned after it listen). Resolves on the first. */
function followDirectory(runtime: Runtime): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (message: ParentMessage) => {
      if (message?.type !== 'directory' || typeof message.entries !== 'object') return;
      try {
        for (const [id, address] of toDirectory(message.entries)) if (id !== runtime.env.nodeId) runtime.directory.set(id, address);
      } catch (error) {
        debugNode('%s ignores a bad directory from its parent: %s', runtime.env.nodeId, (error as Error).message);
      }
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  for (const modulePath of config.programModules) await import(pathToFileURL(modulePath).href);
  const factory = lookupProgram(config.program);
  if (factory === undefined) {
    throw new DistError('E_UNKNOWN_PROGRAM', `unknown program ${config.program}; known: ${programNames().join(', ')}`);
  }
  const args = decode(Buffer.from(config.argsBase64, 'base64'));
  const runtime = await createRuntime({
    nodeId: config.id, listen: config.listen, directory: config.directory, dataDir: config.dataDir,
    ...(config.seed === undefined ? {} : { seed: config.seed }),
    ...(config.tracePath === undefined ? {} : { tracePath: config.tracePath }),
    programModules: config.programModules,
  });
  installShutdown(runtime);
  const firstDirectory = followDirectory(runtime);
  report({ type: 'listening', id: config.id, host: runtime.address.host, port: runtime.address.port });
  if (config.waitForDirectory) await firstDirectory;
  runtime.run(factory, args);
  report({ type: 'up', id: config.id });
  debugNode('%s up, program %s', config.id, config.program);
}

function installShutdown(runtime: Runtime): void {
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    debugNode('%s stopping (%s)', runtime.env.nodeId, why);
    setTimeout(() => process.exit(1), shutdownMsMax).unref();
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The parent died or let go: a node never outlives its launcher.
  process.on('disconnect', () => shutdown('parent disconnected'));
}

main().catch((error: unknown) => {
  const code = hasCode(error, 'E_ASSERT') || !(error instanceof DistError) ? 'E_NODE_START' : error.code;
  // With a launcher listening, the failure travels over IPC; otherwise stderr is all there is.
  if (process.connected) report({ type: 'failed', code, message: (error as Error)?.message ?? String(error) });
  else process.stderr.write(`node failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
  process.disconnect?.();
});
