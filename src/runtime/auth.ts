/**
 * Connection authentication for protected mode, without an extra round trip. The dialer sends
 *
 *   x-distribution-auth: <timeMs>.<nonce>.<HMAC-SHA256(secret, "distribution/1|from|to|timeMs|nonce")>
 *
 * The listener recomputes the HMAC and compares in constant time, accepts the token only within
 * `authSkewMsMax` of its own wall clock, and remembers nonces it has accepted for that long, so a token
 * sniffed off the wire cannot be replayed. The secret itself never crosses the wire. Hosts need clocks
 * within `authSkewMsMax` of each other (NTP).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';

const tokenContext = 'distribution/1';
/** How far a token's timestamp may be from the listener's clock, either way. */
export const authSkewMsMax = 60_000;
/** Accepted nonces remembered at once; beyond it new connections are refused until old ones expire. */
export const replayCacheEntriesMax = 100_000;
const tokenPattern = /^(\d{1,16})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;

function mac(secret: string, from: NodeId, to: NodeId, timeMs: string, nonce: string): string {
  return createHmac('sha256', secret).update(`${tokenContext}|${from}|${to}|${timeMs}|${nonce}`).digest('hex');
}

/** A fresh token for one dial from `from` to `to`. `nowMs` is wall-clock time (Date.now()). */
export function connectionToken(secret: string, from: NodeId, to: NodeId, nowMs: number = Date.now()): string {
  const timeMs = String(Math.floor(nowMs));
  const nonce = randomBytes(16).toString('hex');
  return `${timeMs}.${nonce}.${mac(secret, from, to, timeMs, nonce)}`;
}

export type TokenVerdict = 'ok' | 'malformed' | 'bad-mac' | 'stale' | 'replayed' | 'busy';

/** Checks tokens for one listener and remembers the nonces it accepted. */
export class TokenVerifier {
  /** nonce -> wall-clock ms after which it can be forgotten (the token would be stale by then). */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly selfId: NodeId,
  ) {
    assert(secret.length > 0, 'TokenVerifier: empty secret');
  }

  verify(from: NodeId, presented: unknown, nowMs: number = Date.now()): TokenVerdict {
    if (typeof presented !== 'string') return 'malformed';
    const match = tokenPattern.exec(presented);
    if (match === null) return 'malformed';
    const [, timeMs, nonce, given] = match as unknown as [string, string, string, string];
    const expected = Buffer.from(mac(this.secret, from, this.selfId, timeMs, nonce), 'utf8');
    if (!timingSafeEqual(Buffer.from(given, 'utf8'), expected)) return 'bad-mac';
    if (Math.abs(nowMs - Number(timeMs)) > authSkewMsMax) return 'stale';
    this.forgetExpired(nowMs);
    if (this.seen.has(nonce)) return 'replayed';
    if (this.seen.size >= replayCacheEntriesMax) return 'busy';
    this.seen.set(nonce, Number(timeMs) + authSkewMsMax);
    return 'ok';
  }

  private forgetExpired(nowMs: number): void {
    // Map order is insertion order, roughly expiry order; stop at the first live entry.
    for (const [nonce, expiresMs] of this.seen) {
      if (expiresMs > nowMs) break;
      this.seen.delete(nonce);
    }
  }
}
