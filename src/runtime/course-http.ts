/**
 * The course's wire protocol (COURSE-API "Wire protocol between course nodes"), both halves:
 *
 * - `createCourseServer`: an `http.Server` answering `PUT /<gid>/<service>/<method>` whose body is
 *   `serialize(argsArray)` with `serialize([err, value])`. A non-PUT request gets a serialized Error; a
 *   bad path, an oversized or malformed body gets `[Error, null]`; the server keeps serving.
 * - `CourseHttpNet`: an Env `Net` for the node runtime's `node` channel that carries each call as such a
 *   PUT, so a node of ours reaches a course node (and a course node, or one of ours, reaches us) without
 *   knowing what runs on the other side. The node runtime keeps its ids, timeouts and once-only replies:
 *   a call message becomes a PUT, the HTTP answer becomes the reply message the node waits for.
 *
 * Bodies are in the course's text format, so function sources in them are compiled on arrival. That is
 * why protected mode applies here as on the ws transport: open only on loopback; on any other address a
 * cluster secret is required, and every request must carry it (`x-distribution-secret`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { MessageHandler, Net, NodeId } from '../env/index.js';
import { DistError } from '../lib/errors.js';
import { addressOf } from '../protocols/node/id.js';
import { decodeArgs, decodeMessage, encodeReply, encodeResult, nodeChannel } from '../protocols/node/messages.js';
import { deserialize, serialize } from '../serialize/index.js';

/** Largest request or reply body either half accepts; the same order as the ws transport's payload cap. */
export const courseBodyBytesMax = 16 * 1024 * 1024;
/** Header a request carries when the cluster has a secret. */
export const secretHeader = 'x-distribution-secret';
/** Idle keep-alive sockets the client keeps per peer; busy ones are not capped below the agent's default. */
const freeSocketsMax = 64;

export type CourseDispatch = (gid: string, service: string, method: string, args: unknown[], reply: (err: unknown, value?: unknown) => void) => void;

export interface CourseServerOptions {
  readonly dispatch: CourseDispatch;
  readonly bodyBytesMax?: number;
  /** When set, requests without this secret in `x-distribution-secret` are refused. */
  readonly secret?: string | undefined;
}

export interface CourseServerStats {
  requests: number;
  refused: number;
  badRequests: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time comparison of a presented secret with the configured one. */
export function secretMatches(presented: unknown, secret: string): boolean {
  return typeof presented === 'string' && timingSafeEqual(digest(presented), digest(secret));
}

/** `/<gid>/<service>/<method>` (each segment URI-decoded, non-empty), else undefined. */
export function parseCoursePath(url: string | undefined): { gid: string; service: string; method: string } | undefined {
  const pathname = (url ?? '').split('?')[0] as string;
  const parts = pathname.split('/');
  if (parts.length !== 4 || parts[0] !== '') return undefined;
  try {
    const [gid, service, method] = parts.slice(1).map((p) => decodeURIComponent(p)) as [string, string, string];
    if (gid.length === 0 || service.length === 0 || method.length === 0) return undefined;
    return { gid, service, method };
  } catch {
    return undefined;
  }
}

/** The serialized reply (`[Error, null]` for a failure without a value, as course nodes send), or a
 * serialized coded error when the value cannot travel. */
function replyBody(err: unknown, value: unknown): string {
  const failed = err !== null && err !== undefined;
  try {
    return serialize([failed ? err : null, failed && value === undefined ? null : value]);
  } catch (cause) {
    return serialize([new DistError('E_COURSE_REPLY_UNSERIALIZABLE', 'the reply cannot be serialized', { message: (cause as Error)?.message }), null]);
  }
}

export function createCourseServer(options: CourseServerOptions): http.Server & { courseStats: CourseServerStats } {
  const bodyBytesMax = options.bodyBytesMax ?? courseBodyBytesMax;
  const stats: CourseServerStats = { requests: 0, refused: 0, badRequests: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    const send = (status: number, body: string): void => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const fail = (status: number, err: DistError): void => {
      stats.badRequests++;
      send(status, serialize([err, null]));
    };
    if (options.secret !== undefined && !secretMatches(req.headers[secretHeader], options.secret)) {
      stats.refused++;
      req.resume();
      return send(401, serialize([new DistError('E_COURSE_UNAUTHORIZED', 'this node requires the cluster secret'), null]));
    }
    if (req.method !== 'PUT') {
      stats.badRequests++;
      req.resume();
      // The course's nodes answer "Method not allowed", and course tests match on that text.
      return send(405, serialize(new DistError('E_COURSE_METHOD', `Method not allowed: ${String(req.method)}; use PUT`, { method: String(req.method) })));
    }
    const target = parseCoursePath(req.url);
    if (target === undefined) {
      req.resume();
      return fail(404, new DistError('E_COURSE_BAD_PATH', 'path must be /<gid>/<service>/<method>'));
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      bytes += chunk.length;
      if (bytes > bodyBytesMax) {
        tooLarge = true;
        res.setHeader('connection', 'close');
        fail(413, new DistError('E_COURSE_TOO_LARGE', `request body over ${bodyBytesMax} bytes`, { bytesMax: bodyBytesMax }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooLarge) return;
      const text = Buffer.concat(chunks).toString('utf8');
      let args: unknown;
      try {
        args = deserialize(text);
      } catch (cause) {
        return fail(400, new DistError('E_COURSE_BAD_BODY', 'request body does not deserialize', { message: (cause as Error)?.message }));
      }
      if (!Array.isArray(args)) return fail(400, new DistError('E_COURSE_BAD_ARGS', 'request body must be a serialized array of arguments'));
      let answered = false;
      try {
        options.dispatch(target.gid, target.service, target.method, args, (err, value) => {
          if (answered) return;
          answered = true;
          send(200, replyBody(err, value));
        });
      } catch (cause) {
        if (!answered) send(200, replyBody(new DistError('E_COURSE_DISPATCH_THREW', 'dispatch threw', { message: (cause as Error)?.message }), null));
      }
    });
  });
  return Object.assign(server, { courseStats: stats });
}

export interface CourseHttpNetOptions {
  readonly nodeId: NodeId;
  readonly secret?: string | undefined;
  readonly bodyBytesMax?: number;
  /** Told when a PUT to a peer could not connect (so a caller may relearn how to reach it). */
  readonly onUnreachable?: (peer: NodeId) => void;
}

export interface CourseHttpNetStats {
  puts: number;
  connectFailures: number;
  badReplies: number;
  dropped: number;
}

/** A connection failure as COURSE-API wants it: a plain `Error`, with the cause's code kept. */
export function connectionError(to: NodeId, cause: unknown): Error {
  const error = new Error(`cannot reach node ${to}: ${(cause as Error)?.message ?? String(cause)}`);
  (error as Error & { code: string }).code = typeof (cause as { code?: unknown })?.code === 'string' ? (cause as { code: string }).code : 'E_COURSE_CONNECT';
  return error;
}

/** Reads a reply body: `[err, value]`, or a lone serialized Error (what a course node sends for a non-PUT). */
export function parseReplyBody(text: string): [unknown, unknown] {
  const result = deserialize(text);
  if (Array.isArray(result)) return [result[0] ?? null, result[1]];
  if (result instanceof Error) return [result, undefined];
  throw new DistError('E_COURSE_BAD_REPLY', 'reply is neither [err, value] nor an Error');
}

export class CourseHttpNet implements Net {
  readonly payloadBytesMax: number;
  readonly stats: CourseHttpNetStats = { puts: 0, connectFailures: 0, badReplies: 0, dropped: 0 };
  private handler: MessageHandler | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxFreeSockets: freeSocketsMax });

  constructor(private readonly options: CourseHttpNetOptions) {
    this.payloadBytesMax = options.bodyBytesMax ?? courseBodyBytesMax;
  }

  listen(channel: string, onMessage: MessageHandler): void {
    // Only the node runtime's calls have a course form; other protocols need the ws transport.
    if (channel === nodeChannel) this.handler = onMessage;
  }

  send(to: NodeId, channel: string, payload: Uint8Array): void {
    const message = channel === nodeChannel ? decodeMessage(payload) : undefined;
    // Replies never come this way: calls from course nodes arrive as PUTs and are answered on the socket.
    if (message === undefined || message instanceof DistError || message.type !== 'call') {
      this.stats.dropped++;
      return;
    }
    const { epoch, seq } = message;
    const answer = (err: unknown, value: unknown): void => {
      const reply = encodeReply(epoch, seq, encodeResult(err, value));
      this.handler?.(to, reply);
    };
    const args = decodeArgs(message.argsBytes);
    if (args instanceof DistError) return void setImmediate(() => answer(args, undefined));
    let body: string;
    try {
      body = serialize(args);
    } catch (cause) {
      return void setImmediate(() => answer(new DistError('E_NODE_ARGS_UNENCODABLE', 'call arguments have no course form', { message: (cause as Error)?.message }), undefined));
    }
    this.put(to, `/${[message.gid, message.service, message.method].map(encodeURIComponent).join('/')}`, body, answer);
  }

  private put(to: NodeId, path: string, body: string, answer: (err: unknown, value: unknown) => void): void {
    const { ip, port } = addressOf(to);
    this.stats.puts++;
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (this.options.secret !== undefined) headers[secretHeader] = this.options.secret;
    let settled = false;
    const settle = (err: unknown, value: unknown): void => {
      if (settled) return;
      settled = true;
      answer(err, value);
    };
    const req = http.request({ host: ip, port, path, method: 'PUT', headers, agent: this.agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > this.payloadBytesMax) {
          this.stats.badReplies++;
          settle(new DistError('E_COURSE_TOO_LARGE', `reply body over ${this.payloadBytesMax} bytes`, { node: to }), undefined);
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (cause) => settle(connectionError(to, cause), undefined));
      res.on('end', () => {
        let reply: [unknown, unknown];
        try {
          reply = parseReplyBody(Buffer.concat(chunks).toString('utf8'));
        } catch (cause) {
          this.stats.badReplies++;
          return settle(new DistError('E_COURSE_BAD_REPLY', `reply from ${to} does not deserialize`, { node: to, message: (cause as Error)?.message }), undefined);
        }
        // Outside the try: what the caller's callback throws is its own (an uncaught exception, as on
        // the course's nodes), not a bad reply.
        settle(reply[0], reply[1]);
      });
    });
    req.on('error', (cause) => {
      this.stats.connectFailures++;
      this.options.onUnreachable?.(to);
      settle(connectionError(to, cause), undefined);
    });
    req.end(body);
  }

  /** Closes idle keep-alive sockets (busy ones finish their request first). */
  close(): void {
    this.agent.destroy();
  }
}
