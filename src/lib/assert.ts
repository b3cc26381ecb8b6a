/**
 * Assertions are always on (TigerBeetle style): they state invariants and catch programmer errors.
 * Expected failures are coded errors (see errors.ts), never assertions.
 */
export class AssertionError extends Error {
  readonly code = 'E_ASSERT';
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
