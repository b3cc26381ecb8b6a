/**
 * M1: serialization of every value a node ships.
 *
 * Two wire forms of one type model (model.ts):
 * - `serialize` / `deserialize`: text, the course's `{type, value}` interchange format (text.ts), spoken
 *   exactly so course nodes and ours read each other;
 * - `encode` / `decode`: bytes (binary.ts), what the project's own nodes put on the wire.
 *
 * Covered: primitives with NaN, ±Infinity and -0; undefined anywhere; BigInt; Date; Error (name,
 * message, cause, extra fields; the stack only after `shipErrorStacks(true)`, since it makes bytes depend
 * on call sites); sparse and nested arrays; objects (null prototype too); functions
 * (arrow, classic, method shorthand, async, generators, classes) with their names; cycles and shared
 * references with identity kept; native functions of Node's built-in modules by name, identical on
 * arrival; Map, Set, RegExp, typed arrays, DataView, ArrayBuffer, Buffer; instances of registered classes.
 * A Symbol, Promise, WeakMap, WeakSet, WeakRef, SharedArrayBuffer, boxed primitive or a native function
 * that is not in Node's built-in modules (a bound function) throws E_SERIALIZE_UNSUPPORTED or
 * E_SERIALIZE_NATIVE_UNKNOWN. Symbol-keyed and non-enumerable properties are not carried.
 *
 * Functions are code. Decoding one compiles it, so only input from cluster peers (authenticated by the
 * cluster secret) is decoded with functions allowed; everything from elsewhere (HTTP bodies of the
 * search page, frame headers) is decoded with `{ functions: false }`, which refuses functions and natives
 * with E_DESERIALIZE_FUNCTIONS_REFUSED.
 *
 * Neither form mutates its input; both are deterministic (same value, same output). `encode` returns a
 * view into a shared chunk: copy (`slice()`) what you keep for long.
 */
export { serialize, deserialize } from './text.js';
export { encode, decode } from './binary.js';
export { registerClass, shipErrorStacks, type DeserializeOptions } from './model.js';
export { nativePaths } from './natives.js';
