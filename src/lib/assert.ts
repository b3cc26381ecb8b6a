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

/** `message` may be a function, for messages that interpolate values: a template literal would be built
 * on every call, and some assertions sit on paths every call takes. */
export function assert(condition: unknown, message: string | (() => string) = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'function' ? message() : message);
}

export function assertNever(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
