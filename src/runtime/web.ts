/**
 * `Web` over real HTTP (global fetch): http and https only, a timeout, and a body size limit enforced
 * while streaming, so a huge or endless response cannot exhaust memory.
 */
import type { Web, WebResponse } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import type { WebLimits } from './config.js';

export class HttpWeb implements Web {
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly limits: WebLimits) {}

  get(url: string, onResponse: (response: WebResponse) => void): void {
    assert(typeof url === 'string', 'web.get: url must be a string');
    assert(typeof onResponse === 'function', 'web.get: onResponse must be a function');
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      setImmediate(() => onResponse({ ok: false, error: new DistError('E_WEB_BAD_URL', 'only absolute http(s) URLs can be fetched', { url }) }));
      return;
    }
    void this.fetchLimited(parsed, url).then((response) => {
      if (!this.closed) onResponse(response);
    });
  }

  /** Aborts every request in flight; their callbacks are not called. */
  close(): void {
    this.closed = true;
    for (const controller of this.inflight) controller.abort();
    this.inflight.clear();
  }

  private async fetchLimited(parsed: URL, url: string): Promise<WebResponse> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(), this.limits.timeoutMs);
    try {
      const response = await fetch(parsed, { signal: controller.signal, redirect: 'follow' });
      const body = await readBodyLimited(response, this.limits.bodyBytesMax, controller);
      if (body instanceof DistError) return { ok: false, error: body };
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return { ok: true, status: response.status, headers, body };
    } catch (cause) {
      const timedOut = controller.signal.aborted;
      const code = timedOut ? 'E_WEB_TIMEOUT' : 'E_WEB_FETCH';
      return { ok: false, error: new DistError(code, timedOut ? `GET timed out after ${this.limits.timeoutMs} ms` : `GET failed: ${(cause as Error)?.message}`, { url }, { cause }) };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
  }
}

async function readBodyLimited(response: Response, bodyBytesMax: number, controller: AbortController): Promise<Uint8Array | DistError> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > bodyBytesMax) {
    controller.abort();
    return new DistError('E_WEB_TOO_LARGE', `declared body of ${declared} bytes > ${bodyBytesMax}`);
  }
  if (response.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = response.body.getReader();
  // Bounded by bodyBytesMax: every iteration adds at least one byte or ends.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    if (bytes > bodyBytesMax) {
      controller.abort();
      return new DistError('E_WEB_TOO_LARGE', `body exceeds ${bodyBytesMax} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, bytes);
}
