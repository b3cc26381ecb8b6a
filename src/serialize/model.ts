/**
 * The one type model both wire forms share: every value the serializer meets is classified into one
 * kind, and the text form (the course's `{type, value}` JSON) and the binary form (`encode`/`decode`)
 * are two spellings of the same tree of kinds, with repeated objects written as references.
 */
import { DistError } from '../lib/errors.js';

export const Kind = {
  Undefined: 0,
  Null: 1,
  Boolean: 2,
  Number: 3,
  String: 4,
  BigInt: 5,
  Date: 6,
  Error: 7,
  Array: 8,
  Object: 9,
  Function: 10,
  Map: 11,
  Set: 12,
  RegExp: 13,
  TypedArray: 14,
  ArrayBuffer: 15,
  Buffer: 16,
  Class: 17,
  /** Cannot travel (a Symbol, a Promise, a WeakMap …); see `unsupportedError`. */
  Unsupported: 18,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Constructors of the typed-array views that travel, by their wire name. */
export const typedArrayKinds = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
} as const;
export type TypedArrayName = keyof typeof typedArrayKinds;
export const typedArrayNames = Object.keys(typedArrayKinds) as TypedArrayName[];

/** The error constructors a deserialized error is rebuilt with, by `name`; any other name gives an
 * `Error` whose `name` is set to it. */
export const errorConstructors: Readonly<Record<string, ErrorConstructor>> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

// ---- registered classes -------------------------------------------------------------------------

const classByName = new Map<string, Function>();
const nameByPrototype = new Map<object, string>();

/**
 * Registers a class so its instances travel with their prototype: they are written as the class name
 * plus their own enumerable properties, and rebuilt with `Object.create(Class.prototype)` on a receiver
 * that registered the same name (the constructor does not run). Instances of unregistered classes travel
 * as plain objects of their own enumerable properties, as the course's serializer does.
 */
export function registerClass(cls: Function, name: string = cls.name): void {
  if (typeof cls !== 'function' || typeof cls.prototype !== 'object') throw new DistError('E_SERIALIZE_BAD_CLASS', 'registerClass needs a class or constructor function');
  if (name.length === 0) throw new DistError('E_SERIALIZE_BAD_CLASS', 'registerClass needs a non-empty name');
  const existing = classByName.get(name);
  if (existing !== undefined && existing !== cls) throw new DistError('E_SERIALIZE_BAD_CLASS', `a different class is already registered as '${name}'`, { name });
  classByName.set(name, cls);
  nameByPrototype.set(cls.prototype as object, name);
}

export function registeredClassName(prototype: object): string | undefined {
  return nameByPrototype.get(prototype);
}

export function newRegisteredInstance(name: string): Record<string, unknown> {
  const cls = classByName.get(name);
  if (cls === undefined) throw new DistError('E_DESERIALIZE_UNKNOWN_CLASS', `class '${name}' is not registered on this node`, { name });
  return Object.create(cls.prototype as object) as Record<string, unknown>;
}

// ---- classification -----------------------------------------------------------------------------

/** Values that can never travel: they are handles to local state (a pending computation, weakly held
 * objects, a symbol's identity) that no copy can preserve. */
const untravellable: ReadonlyArray<[Function, string]> = [
  [Promise, 'Promise'], [WeakMap, 'WeakMap'], [WeakSet, 'WeakSet'], [WeakRef, 'WeakRef'],
  [SharedArrayBuffer, 'SharedArrayBuffer'], [Number, 'boxed Number'], [String, 'boxed String'],
  [Boolean, 'boxed Boolean'], [Symbol, 'boxed Symbol'], [BigInt, 'boxed BigInt'],
];

export function classify(value: unknown): Kind {
  switch (typeof value) {
    case 'number': return Kind.Number;
    case 'string': return Kind.String;
    case 'boolean': return Kind.Boolean;
    case 'undefined': return Kind.Undefined;
    case 'bigint': return Kind.BigInt;
    case 'function': return Kind.Function;
    case 'symbol': return Kind.Unsupported;
    default: return value === null ? Kind.Null : classifyObject(value as object);
  }
}

function classifyObject(value: object): Kind {
  if (Array.isArray(value)) return Kind.Array;
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype === Object.prototype || prototype === null) return Kind.Object;
  if (value instanceof Date) return Kind.Date;
  if (value instanceof Error) return Kind.Error;
  if (value instanceof Map) return Kind.Map;
  if (value instanceof Set) return Kind.Set;
  if (value instanceof RegExp) return Kind.RegExp;
  if (Buffer.isBuffer(value)) return Kind.Buffer;
  if (ArrayBuffer.isView(value)) return Kind.TypedArray;
  if (value instanceof ArrayBuffer) return Kind.ArrayBuffer;
  if (registeredClassName(prototype) !== undefined) return Kind.Class;
  return untravellableLabel(value) === undefined ? Kind.Object : Kind.Unsupported;
}

function untravellableLabel(value: unknown): string | undefined {
  if (typeof value === 'symbol') return 'Symbol';
  for (const [constructor, label] of untravellable) {
    if (value instanceof constructor) return label;
  }
  return undefined;
}

/** The coded error for a value classified `Unsupported`, naming where it was met. */
export function unsupportedError(value: unknown, where: string): DistError {
  const label = untravellableLabel(value) ?? typeof value;
  return new DistError('E_SERIALIZE_UNSUPPORTED', `a ${label} cannot be serialized (at ${where})`, { type: label });
}

/** The name under which a typed-array view travels. */
export function typedArrayName(view: ArrayBufferView): TypedArrayName {
  const name = view.constructor.name as TypedArrayName;
  if (typedArrayKinds[name] === undefined) throw new DistError('E_SERIALIZE_UNSUPPORTED', `typed array '${name}' cannot be serialized`);
  return name;
}

/** Rebuilds a typed-array view from its bytes (copied, so the view owns its own buffer). */
export function typedArrayFrom(name: string, bytes: Uint8Array): ArrayBufferView {
  const constructor = (typedArrayKinds as Record<string, unknown>)[name] as (new (buffer: ArrayBuffer, offset?: number, length?: number) => ArrayBufferView) | undefined;
  if (constructor === undefined) throw new DistError('E_DESERIALIZE_MALFORMED', `unknown typed array '${name}'`);
  const copy = new Uint8Array(bytes).buffer; // a copy: `bytes` may be a view into a larger input
  const elementBytes = (constructor as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  if (copy.byteLength % elementBytes !== 0) throw new DistError('E_DESERIALIZE_MALFORMED', `${name} byte length ${copy.byteLength} is not a multiple of ${elementBytes}`);
  return new constructor(copy);
}

export function viewBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Whether errors travel with their `stack`. Off by default: a stack names the sender's files, lines and
 * call sites (down to the harness that started a simulation), so shipping it makes message bytes depend on
 * where the code was called from, and the simulator's same-seed-same-trace promise breaks (seen: a kv run
 * diverged between two call sites of the same scenario). Turn it on for debugging a real cluster.
 */
let errorStacksShipped = false;

export function shipErrorStacks(on: boolean): void {
  errorStacksShipped = on;
}

/** The fields an error travels with: name, message, stack (when shipped) and cause when present, then
 * its own enumerable fields (`code`, …). */
export function errorKeys(error: Error): string[] {
  const keys = ['name', 'message'];
  if (errorStacksShipped && typeof error.stack === 'string') keys.push('stack');
  if ('cause' in error) keys.push('cause');
  for (const key of Object.keys(error)) {
    if (key !== 'name' && key !== 'message' && key !== 'cause' && key !== 'stack') keys.push(key);
  }
  return keys;
}

/** Rebuilds an error of the right constructor without running user code. A name that is not its
 * constructor's own (`this.name = 'ValidationError'`) is an own enumerable field, as an assignment makes it. */
export function newError(name: unknown, message: unknown): Error {
  const constructor = typeof name === 'string' ? errorConstructors[name] : undefined;
  const error = new (constructor ?? Error)(typeof message === 'string' ? message : String(message));
  if (error.name !== name) error.name = name as string;
  return error;
}

/** Sets a field of a rebuilt error the way the original had it: the standard ones non-enumerable. */
export function setErrorField(error: Error, key: string, value: unknown): void {
  if (key === 'message' || key === 'stack' || key === 'cause') {
    Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: false });
    return;
  }
  (error as unknown as Record<string, unknown>)[key] = value;
}

/** Arrays up to this length are scanned index by index; longer ones by their present keys, so a
 * `[]` with `length = 1e9` and two items costs two steps, not a billion. */
export const arrayScanLengthMax = 65_536;

/** The present indices of a (long, sparse) array in ascending order, skipping holes. */
export function presentIndices(array: readonly unknown[]): number[] {
  const indices: number[] = [];
  for (const key in array) {
    const index = arrayIndex(key);
    if (index >= 0) indices.push(index);
  }
  return indices;
}

/** The index of an array key, or -1 for a non-index property (which arrays do not carry). */
export function arrayIndex(key: string): number {
  const index = Number(key);
  return Number.isInteger(index) && index >= 0 && index < 2 ** 32 - 1 && String(index) === key ? index : -1;
}

export interface DeserializeOptions {
  /** Compile shipped functions (default true). Pass false for input from outside the cluster: functions
   * and natives are then refused with E_DESERIALIZE_FUNCTIONS_REFUSED. */
  readonly functions?: boolean;
}

/** A stack overflow is still possible when the caller is already deep; it becomes a coded error. */
export function asStackOverflow(error: unknown, code: string): unknown {
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return new DistError(code, 'value nested too deeply for the stack', undefined, { cause: error });
  }
  return error;
}
