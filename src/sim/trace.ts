/**
 * Traces: NDJSON, one JSON object per line.
 *
 *   line 1     {"type":"header","version":1,...}          seed, config, the concrete fault plan
 *   lines 2..  {"t":12,"i":0,"node":"n1","kind":"recv",...} one line per traced event
 *   last line  {"type":"end",...}                           result, counts, the trace hash
 *
 * Event lines put the fixed keys first (`t` virtual ms, `i` line index, `node`, `kind`), then the rest
 * sorted by key; nested objects are key-sorted too. No wall-clock time ever appears. The trace hash is
 * a rolling 64-bit hash over the header line and every event line (not the end line), so two runs have
 * the same hash exactly when they wrote the same lines.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { RollingHash } from './hash.js';

export const traceVersion = 1;

/** JSON with object keys sorted at every depth, so equal values always print the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number') assert(Number.isFinite(value), `trace values must be finite numbers: ${value}`);
    if (value === undefined) return 'null';
    assert(typeof value !== 'function' && typeof value !== 'symbol' && typeof value !== 'bigint', `not JSON-safe: ${typeof value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Where finished lines go besides the hash. */
export interface TraceSink {
  line(text: string): void;
  close(): void;
}

/** Flush the file buffer at this many characters; bounds memory on long runs. */
const fileBufferCharsMax = 1 << 20;

export class FileSink implements TraceSink {
  readonly file: string;
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedChars = 0;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.file = file;
    this.fd = fs.openSync(file, 'w');
  }

  line(text: string): void {
    this.buffer.push(text);
    this.bufferedChars += text.length + 1;
    if (this.bufferedChars >= fileBufferCharsMax) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    fs.writeSync(this.fd, this.buffer.join('\n') + '\n');
    this.buffer = [];
    this.bufferedChars = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

/** Keeps lines in memory (determinism checks, tests), up to a bound. */
export class MemorySink implements TraceSink {
  readonly lines: string[] = [];
  constructor(private readonly linesMax = 5_000_000) {}
  line(text: string): void {
    if (this.lines.length < this.linesMax) this.lines.push(text);
  }
  close(): void {}
}

export class Tracer {
  private readonly hash = new RollingHash();
  /** Event lines written so far; also the next line's `i`. */
  lines = 0;
  private readonly sink: TraceSink | undefined;

  constructor(sink?: TraceSink) {
    this.sink = sink;
  }

  header(fields: Record<string, unknown>): void {
    assert(this.lines === 0, 'trace header must come first');
    const text = `{"type":"header","version":${traceVersion},${canonicalJson(fields).slice(1)}`;
    this.hash.line(text);
    this.sink?.line(text);
  }

  /** A prebuilt line body: `rest` is `,"key":value...` with keys already sorted, or empty. */
  raw(time: number, quotedNode: string, kind: string, rest: string): void {
    const text = `{"t":${time},"i":${this.lines},"node":${quotedNode},"kind":"${kind}"${rest}}`;
    this.lines++;
    this.hash.line(text);
    if (this.sink !== undefined) this.sink.line(text);
  }

  // Streaming form for the hot paths: open(), then s()/n() pieces with keys in sorted order, then
  // close(). Without a sink nothing is concatenated: the pieces go straight into the hash, which
  // hashes pieces exactly as it would hash the whole line.
  private current = '';

  open(time: number, quotedNode: string, kind: string): void {
    if (this.sink !== undefined) {
      this.current = `{"t":${time},"i":${this.lines},"node":${quotedNode},"kind":"${kind}"`;
      return;
    }
    const h = this.hash;
    h.text('{"t":');
    h.int(time);
    h.text(',"i":');
    h.int(this.lines);
    h.text(',"node":');
    h.text(quotedNode);
    h.text(',"kind":"');
    h.text(kind);
    h.unit(34); // '"'
  }

  /** Appends raw JSON text (a key, punctuation, a quoted string). */
  s(text: string): void {
    if (this.sink !== undefined) this.current += text;
    else this.hash.text(text);
  }

  /** Appends a number. */
  n(value: number): void {
    if (this.sink !== undefined) this.current += value;
    else this.hash.int(value);
  }

  close(): void {
    this.lines++;
    if (this.sink !== undefined) {
      const text = this.current + '}';
      this.current = '';
      this.hash.line(text);
      this.sink.line(text);
      return;
    }
    this.hash.unit(125); // '}'
    this.hash.endLine();
  }

  /** A general event with arbitrary fields (sorted here). */
  event(time: number, node: string, kind: string, fields?: Readonly<Record<string, unknown>>): void {
    assert(!('t' in (fields ?? {})) && !('i' in (fields ?? {})), 'trace fields t and i are reserved');
    const body = fields === undefined ? '' : canonicalJson(fields).slice(1, -1);
    this.raw(time, JSON.stringify(node), JSON.stringify(kind).slice(1, -1), body.length > 0 ? `,${body}` : '');
  }

  digest(): string {
    return this.hash.digest();
  }

  /** Writes the end line (not hashed) and closes the sink. */
  end(fields: Record<string, unknown>): void {
    this.sink?.line(`{"type":"end",${canonicalJson(fields).slice(1)}`);
    this.sink?.close();
  }
}

export interface TraceFile {
  readonly header: Record<string, unknown>;
  /** Event lines as text, exactly as written. */
  readonly events: string[];
  readonly end: Record<string, unknown> | undefined;
}

/** Reads a trace file: the header, the event lines and the end line (absent if the run died). */
export function readTrace(file: string): TraceFile {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const first = lines[0];
  if (first === undefined) throw new DistError('E_TRACE_EMPTY', `trace file is empty: ${file}`, { file });
  const header = parseLine(first, file, 1);
  if (header.type !== 'header') throw new DistError('E_TRACE_HEADER', `first line of ${file} is not a header`, { file });
  if (header.version !== traceVersion) {
    throw new DistError('E_TRACE_VERSION', `trace version ${String(header.version)} not supported (want ${traceVersion})`, { file });
  }
  const lastText = lines[lines.length - 1] as string;
  const last = lines.length > 1 ? parseLine(lastText, file, lines.length) : undefined;
  const end = last?.type === 'end' ? last : undefined;
  const events = lines.slice(1, end === undefined ? lines.length : lines.length - 1);
  return { header, events, end };
}

function parseLine(text: string, file: string, lineNo: number): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the coded error
  }
  throw new DistError('E_TRACE_LINE', `line ${lineNo} of ${file} is not a JSON object`, { file, lineNo });
}
