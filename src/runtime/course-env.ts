/**
 * The Env of a course-compatible node (the facade's `bootstrap`): real clock, timers, randomness, web
 * and trace as in `createRuntime`, but calls travel as the course's HTTP PUTs (course-http.ts) and
 * spawned nodes are facade processes (course-hosts.ts). Nothing here binds a port: the facade's
 * `node.start` does, as the course's does.
 *
 * The disk is a placeholder until storage (issue 5) decides where course stores live: reads find
 * nothing and writes fail with E_NOT_IMPLEMENTED.
 */
import type { Disk, DiskOp, DiskRange, DiskWriteResult, Env, NodeId } from '../env/index.js';
import { DistError } from '../lib/errors.js';
import { RealClock } from './clock.js';
import { webLimitsDefault } from './config.js';
import { CourseProcessHosts } from './course-hosts.js';
import { CourseHttpNet } from './course-http.js';
import { cryptoSeed, SeededRandom } from './random.js';
import { RealTimers } from './timers.js';
import { RealTrace } from './trace.js';
import { HttpWeb } from './web.js';

class UnavailableDisk implements Disk {
  get(_key: string): Uint8Array | undefined {
    return undefined;
  }

  scan(_range: DiskRange): Iterable<[string, Uint8Array]> {
    return [];
  }

  write(_batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void {
    const error = new DistError('E_NOT_IMPLEMENTED', 'course nodes have no disk until storage (issue 5)');
    setImmediate(() => onDurable({ ok: false, error }));
  }
}

export interface CourseEnvOptions {
  readonly nodeId: NodeId;
  readonly secret: string | undefined;
  /** The facade entry a spawned child runs. */
  readonly entryPath: () => string;
  readonly seed?: string;
}

export interface CourseEnv {
  readonly env: Env;
  readonly net: CourseHttpNet;
  readonly hosts: CourseProcessHosts;
  readonly timers: RealTimers;
}

export function createCourseEnv(options: CourseEnvOptions): CourseEnv {
  const clock = new RealClock();
  const timers = new RealTimers();
  const random = new SeededRandom(options.seed ?? cryptoSeed()).fork(`node/${options.nodeId}`);
  const net = new CourseHttpNet({ nodeId: options.nodeId, secret: options.secret });
  const hosts = new CourseProcessHosts({ selfId: options.nodeId, entryPath: options.entryPath });
  const env: Env = {
    nodeId: options.nodeId, clock, timers, random, net, disk: new UnavailableDisk(), hosts,
    web: new HttpWeb(webLimitsDefault), trace: new RealTrace(options.nodeId, clock, undefined),
  };
  return { env, net, hosts, timers };
}
