/**
 * Coded errors. Expected failures (bad bytes, timeouts, unknown services, peers down) carry a stable
 * `code`; tests assert on codes, never on message text.
 */
export class DistError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is an Error carrying the given code (works across realms and after deserialization). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
