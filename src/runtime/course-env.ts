/**
 * The Env of a course-compatible node (the facade's `bootstrap`): real clock, timers, randomness, web
 * and trace as in `createRuntime`, but calls travel as the course's HTTP PUTs to course nodes and over
 * the ws transport to the project's own (course-net.ts), and spawned nodes are facade processes
 * (course-hosts.ts). Nothing here binds a port: the facade's
 * `node.start` does, as the course's does.
 *
 * The disk is LMDB under `<storeRoot>/<node id>/` (COURSE-API: `./store/` of the working directory by
 * default, which the course's test suites delete to start clean; one sub-directory per node, so several
 * nodes started in one folder never share files). It opens on first use: a node that never touches
 * `store` leaves no folder behind.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Disk, DiskOp, DiskRange, DiskWriteResult, Env, NodeId } from '../env/index.js';
import { RealClock } from './clock.js';
import { webLimitsDefault } from './config.js';
import { CourseProcessHosts } from './course-hosts.js';
import { CourseNet } from './course-net.js';
import { LmdbDisk } from './disk.js';
import { cryptoSeed, SeededRandom } from './random.js';
import { RealTimers } from './timers.js';
import { RealTrace } from './trace.js';
import { HttpWeb } from './web.js';

/** Where course stores live unless the node config names another root (`storeDir`). */
export const courseStoreRootDefault = 'store';

/** The directory of one node's store: a node id `ip:port` becomes `ip_port` (portable as a file name). */
export function courseStoreDir(root: string, nodeId: NodeId): string {
  return join(resolve(root), nodeId.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** An LmdbDisk opened at its first read or write. */
class LazyLmdbDisk implements Disk {
  private disk: LmdbDisk | undefined;

  constructor(private readonly path: string) {}

  private open(): LmdbDisk {
    if (this.disk === undefined) {
      mkdirSync(this.path, { recursive: true });
      // Durable once committed to the OS, as the course's store (file writes, no fsync): a node restart
      // finds every acknowledged value; a machine crash may lose the last moments (docs/storage.md).
      this.disk = new LmdbDisk(join(this.path, 'lmdb'), { durableAt: 'commit' }); // data and lock file
    }
    return this.disk;
  }

  get(key: string): Uint8Array | undefined {
    return this.open().get(key);
  }

  read<T>(key: string, visit: (bytes: Uint8Array) => T): T | undefined {
    return this.open().read(key, visit);
  }

  scan(range: DiskRange): Iterable<[string, Uint8Array]> {
    return this.open().scan(range);
  }

  write(batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void {
    this.open().write(batch, onDurable);
  }
}

export interface CourseEnvOptions {
  readonly nodeId: NodeId;
  readonly secret: string | undefined;
  /** The facade entry a spawned child runs. */
  readonly entryPath: () => string;
  readonly seed?: string;
  /** Root of the per-node store directories; default `./store` of the working directory. */
  readonly storeRoot?: string;
}

export interface CourseEnv {
  readonly env: Env;
  readonly net: CourseNet;
  readonly hosts: CourseProcessHosts;
  readonly timers: RealTimers;
}

export function createCourseEnv(options: CourseEnvOptions): CourseEnv {
  const clock = new RealClock();
  const timers = new RealTimers();
  const random = new SeededRandom(options.seed ?? cryptoSeed()).fork(`node/${options.nodeId}`);
  const net = new CourseNet({ nodeId: options.nodeId, secret: options.secret });
  const hosts = new CourseProcessHosts({ selfId: options.nodeId, entryPath: options.entryPath });
  const env: Env = {
    nodeId: options.nodeId, clock, timers, random, net, disk: new LazyLmdbDisk(courseStoreDir(options.storeRoot ?? courseStoreRootDefault, options.nodeId)), hosts,
    web: new HttpWeb(webLimitsDefault), trace: new RealTrace(options.nodeId, clock, undefined),
  };
  return { env, net, hosts, timers };
}
