/**
 * Connection authentication for protected mode. The dialer sends HMAC-SHA256(secret, from|to) in a
 * handshake header; the listener recomputes it and compares in constant time. The secret itself never
 * crosses the wire. Limitation (documented in docs/runtime.md): without TLS the token can be replayed by
 * someone who can sniff the link, so a non-loopback cluster still belongs on a private network.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../env/index.js';

const tokenContext = 'distribution/1';

export function connectionToken(secret: string, from: NodeId, to: NodeId): string {
  return createHmac('sha256', secret).update(`${tokenContext}|${from}|${to}`).digest('hex');
}

export function verifyConnectionToken(secret: string, from: NodeId, to: NodeId, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(connectionToken(secret, from, to), 'utf8');
  const given = Buffer.from(presented, 'utf8');
  // timingSafeEqual needs equal lengths; the length of a hex digest is public anyway.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
