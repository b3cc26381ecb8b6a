/**
 * Assembles the real Env for one node: real clock and timers, seeded or crypto random, ws transport,
 * lmdb disk, child-process hosts, HTTP web, debug/NDJSON trace.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import createDebug from 'debug';
import type { Env, NodeFactory, NodeProgram } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { RealClock } from './clock.js';
import { resolveConfig, type Address, type Directory, type ResolvedConfig, type RuntimeConfig } from './config.js';
import { LmdbDisk } from './disk.js';
import { ProcessHosts } from './hosts.js';
import { cryptoSeed, SeededRandom } from './random.js';
import { RealTimers } from './timers.js';
import { RealTrace } from './trace.js';
import { WsNet, type Direction, type NetStats } from './transport.js';
import { HttpWeb } from './web.js';

const debugRuntime = createDebug('distribution:runtime');

export interface Runtime {
  readonly env: Env;
  /** Where this node listens. */
  readonly address: Address;
  /** Node id -> address; shared with the transport, so entries added here are dialable at once. */
  readonly directory: Directory;
  readonly config: ResolvedConfig;
  readonly seed: string;
  netStats(): Readonly<NetStats>;
  /** Open connections by peer and which side dialed (the transport keeps one per pair). */
  connections(): { peer: string; direction: Direction }[];
  /** Builds the node's program with this Env. At most one program per runtime. */
  run(factory: NodeFactory, args?: unknown): NodeProgram;
  /** Stops the program, timers, children, sockets; then closes lmdb. Idempotent. */
  close(): Promise<void>;
}

export async function createRuntime(input: RuntimeConfig): Promise<Runtime> {
  const config = resolveConfig(input);
  mkdirSync(config.dataDir, { recursive: true });
  const clock = new RealClock();
  const timers = new RealTimers();
  const seed = config.seed ?? cryptoSeed();
  const random = new SeededRandom(seed).fork(`node/${config.nodeId}`);
  const net = new WsNet({ nodeId: config.nodeId, limits: config.net, directory: config.directory, secret: config.secret });
  const disk = new LmdbDisk(join(config.dataDir, 'lmdb'));
  const hosts = new ProcessHosts({
    selfId: config.nodeId, directory: config.directory, dataRoot: config.hostsDataRoot ?? join(config.dataDir, 'hosts'),
    secret: config.secret, programModules: config.programModules,
  });
  const web = new HttpWeb(config.web);
  const trace = new RealTrace(config.nodeId, clock, config.tracePath);
  let address: Address;
  try {
    address = await net.start(config.listen);
  } catch (error) {
    await disk.close();
    await trace.close();
    throw error;
  }
  const env: Env = { nodeId: config.nodeId, clock, timers, random, net, disk, hosts, web, trace };
  let program: NodeProgram | undefined;
  let closing: Promise<void> | undefined;
  debugRuntime('%s listening on %s:%d', config.nodeId, address.host, address.port);

  const closeAll = async (): Promise<void> => {
    try {
      program?.stop?.();
    } catch (error) {
      debugRuntime('%s program.stop threw: %s', config.nodeId, (error as Error)?.message);
    }
    timers.close();
    web.close();
    await hosts.close();
    await net.close();
    await disk.close();
    await trace.close();
    debugRuntime('%s closed', config.nodeId);
  };

  return {
    env,
    address,
    directory: config.directory,
    config,
    seed,
    netStats: () => ({ ...net.stats }),
    connections: () => net.connections(),
    run(factory, args) {
      assert(program === undefined, 'runtime.run: a program is already running');
      assert(closing === undefined, 'runtime.run: runtime is closed');
      program = factory(env, args);
      return program;
    },
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}
