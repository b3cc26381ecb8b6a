/**
 * Service methods, course-shaped: a service is a plain, mutable object whose methods take their
 * arguments and then an error-first callback, `get(key, cb)`. Built-in methods are written as
 * `(args, reply)` implementations and wrapped with their arity, so a call with too few arguments still
 * finds its callback in the right place and a call with too many does not lose it.
 */
import { assert } from '../../lib/assert.js';
import { DistError } from '../../lib/errors.js';

/** Error-first: `err` is null on success. */
export type Callback<T = unknown> = (err: Error | null, value?: T) => void;
/** A method implementation: reads `args`, answers through `reply` exactly once (later calls are dropped). */
export type MethodImpl = (args: unknown[], reply: Callback) => void;
export type Method = ((...argsThenCallback: unknown[]) => void) & { readonly [arityKey]?: number };
/** A service: methods by name (other properties are allowed and ignored by dispatch). */
export type Service = Record<string, unknown>;

const arityKey = Symbol.for('distribution.method.arity');
const idempotentKey = Symbol.for('distribution.method.idempotent');
/** Arguments a method may declare; a bound so padding can never allocate without limit. */
export const arityMax = 16;

const noop: Callback = () => undefined;

/** Wraps `impl` as a course-style method taking `arity` arguments and a callback. */
export function defineMethod(arity: number, impl: MethodImpl, options: { idempotent?: boolean } = {}): Method {
  assert(Number.isInteger(arity) && arity >= 0 && arity <= arityMax, `arity must be an integer in [0, ${arityMax}]`);
  const method = function (this: unknown, ...given: unknown[]): void {
    const last = given[given.length - 1];
    const callback = given.length > arity && typeof last === 'function' ? (last as Callback) : noop;
    // `given` is this call's own array: trimmed or padded in place rather than copied (every call pays).
    // Dropping the one callback by `pop` stays in optimized code; assigning `length` is a runtime call
    // (~4% of an answering node's CPU per call in a profile).
    if (given.length === arity + 1) given.pop();
    else if (given.length > arity) given.length = arity;
    while (given.length < arity) given.push(undefined);
    impl(given, callback);
  };
  Object.defineProperty(method, arityKey, { value: arity });
  if (options.idempotent === true) Object.defineProperty(method, idempotentKey, { value: true });
  return method as Method;
}

/** Arguments a method takes before its callback: declared, or guessed from `fn.length` for user code. */
export function arityOf(fn: Function): number {
  const declared = (fn as Method)[arityKey];
  if (typeof declared === 'number') return declared;
  return Math.min(arityMax, Math.max(0, fn.length - 1));
}

export function isIdempotent(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[idempotentKey] === true;
}

/**
 * Runs `service[method](...args, callback)`. `callback` gets exactly one answer: the method's first,
 * or a coded error if the method throws before answering. Returns false when the method does not exist.
 */
export function invokeMethod(service: Service, method: string, args: readonly unknown[], callback: Callback, onExtraReply: () => void): boolean {
  const fn = service[method];
  // Object.prototype's own functions (toString, constructor, __defineGetter__ …) are not methods a peer may call.
  if (typeof fn !== 'function' || fn === (Object.prototype as unknown as Service)[method]) return false;
  let answered = false;
  const once: Callback = (err, value) => {
    if (answered) return onExtraReply();
    answered = true;
    callback(err ?? null, value);
  };
  const padded = [...args];
  for (let i = padded.length; i < arityOf(fn); i++) padded.push(undefined);
  padded.push(once);
  try {
    (fn as Function).apply(service, padded);
  } catch (cause) {
    if (!answered) once(new DistError('E_NODE_HANDLER_THREW', `${method} threw`, { method, message: (cause as Error)?.message }, { cause }));
  }
  return true;
}
