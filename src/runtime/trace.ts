import { createWriteStream, type WriteStream } from 'node:fs';
import createDebug from 'debug';
import type { Clock, NodeId, Trace, TraceFields } from '../env/index.js';

const debugTrace = createDebug('distribution:trace');

/** Trace events go to the `distribution:trace` debug namespace and, if configured, to an NDJSON file. */
export class RealTrace implements Trace {
  private readonly file: WriteStream | undefined;

  constructor(
    private readonly nodeId: NodeId,
    private readonly clock: Clock,
    tracePath: string | undefined,
  ) {
    this.file = tracePath === undefined ? undefined : createWriteStream(tracePath, { flags: 'a' });
    // A trace file that cannot be written must not take the node down; say so once.
    this.file?.on('error', (error) => debugTrace('%s trace file error: %s', nodeId, error.message));
  }

  event(kind: string, fields?: TraceFields): void {
    if (debugTrace.enabled) debugTrace('%s %s %o', this.nodeId, kind, fields ?? {});
    if (this.file === undefined) return;
    this.file.write(`${safeJson({ node: this.nodeId, kind, tMs: this.clock.now(), ...fields })}\n`);
  }

  close(): Promise<void> {
    const file = this.file;
    if (file === undefined) return Promise.resolve();
    return new Promise((resolve) => file.end(resolve));
  }
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ kind: 'trace-unserializable' });
  }
}
