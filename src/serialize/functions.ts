/**
 * Functions travel as source text and are compiled again on arrival. Functions are code: compiling one
 * runs whatever its source says, so only peers of the cluster (who hold the shared secret) may send
 * them, and decoders that read from anywhere else pass `{ functions: false }`.
 *
 * A function loses its closure on the trip: free variables resolve in the receiver's global scope, where
 * `require` is provided so shipped map/reduce code can load modules as course code does.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { DistError } from '../lib/errors.js';
import { compiledFunctionsMax } from './limits.js';
import { nativeAt, nativePathOf } from './natives.js';

/** What a shipped function carries, kept per function (see `describeFunction`). */
export interface SourceRecord {
  readonly source: string;
  /** The name its source gives the function when compiled. */
  readonly implied: string;
  /** The source's UTF-8, filled in by the binary encoder the first time it ships the function. */
  bytes?: Uint8Array;
}

type Factory = (require: NodeJS.Require) => Function;

const factories = new Map<string, Map<string, Factory>>();
/** Stands for "no name shipped" (a real name can be any string, even empty, but never this one). */
const noNameKey = '\u0000none';
let shippedRequire: NodeJS.Require | undefined;

const nativeSourceSuffix = /\{\s*\[native code\]\s*\}$/;

/** Source records per function: reading and parsing a function's source costs microseconds, and the
 * same functions ship over and over (map and reduce with every task). */
const sourceRecords = new WeakMap<Function, SourceRecord>();

/** How `fn` travels: its native path (a string) or its source record. Allocates nothing once `fn` has
 * travelled before. */
export function describeFunction(fn: Function, where: () => string): string | SourceRecord {
  const known = sourceRecords.get(fn);
  if (known !== undefined) return known;
  const nativePath = nativePathOf(fn);
  if (nativePath !== undefined) return nativePath;
  const source = Function.prototype.toString.call(fn);
  if (nativeSourceSuffix.test(source)) {
    throw new DistError('E_SERIALIZE_NATIVE_UNKNOWN', `native function '${fn.name}' at ${where()} is not a function of Node's built-in modules and has no source to ship`, { name: fn.name });
  }
  const record: SourceRecord = { source, implied: impliedName(source) };
  sourceRecords.set(fn, record);
  return record;
}

/** The name to ship with `fn`: only when compiling its source would not give it back. */
export function shippedName(fn: Function, record: SourceRecord): string | undefined {
  return fn.name === record.implied ? undefined : fn.name;
}

/** The name compiling `source` gives the function, so the wire only carries names it cannot derive. */
export function impliedName(source: string): string {
  const declared = /^(?:async\s+)?function\s*\*?\s*([\w$]+)/.exec(source) ?? /^class\s+([\w$]+)/.exec(source);
  if (declared) return declared[1] as string;
  if (/^(?:async\s*)?(?:\(|[\w$]+\s*=>)/.test(source) || /^(?:async\s+)?function\b/.test(source) || /^class\b/.test(source)) return '';
  const method = /^(?:async\s+)?(?:\*\s*)?([\w$]+)\s*\(/.exec(source);
  return method ? (method[1] as string) : '';
}

export function nativeFunction(nativePath: string): Function {
  const fn = nativeAt(nativePath);
  if (fn === undefined) throw new DistError('E_DESERIALIZE_NATIVE_UNKNOWN', `unknown native function '${nativePath}'`, { path: nativePath });
  return fn;
}

/** Compiles shipped source into a new function object (a fresh one each call, so receivers never share
 * state through a cached function). */
export function compileFunction(source: string, name: string | undefined): Function {
  let fn: unknown;
  try {
    fn = factoryFor(source, name)(requireForShippedCode());
  } catch (cause) {
    if (cause instanceof DistError) throw cause;
    // The source is an expression that threw while evaluating (not a function literal at all).
    throw new DistError('E_DESERIALIZE_BAD_FUNCTION', 'function source threw when evaluated', { source: source.slice(0, 200) }, { cause });
  }
  if (typeof fn !== 'function') throw new DistError('E_DESERIALIZE_BAD_FUNCTION', 'function source does not evaluate to a function', { source: source.slice(0, 200) });
  if (name !== undefined && fn.name !== name) Object.defineProperty(fn, 'name', { value: name, configurable: true });
  return fn;
}

/** Keyed by source, then by name (no concatenation: the key strings arrive fresh with every decode, and
 * a concatenated key would be built and hashed anew each time). */
function factoryFor(source: string, name: string | undefined): Factory {
  let byName = factories.get(source);
  if (byName === undefined) {
    if (factories.size >= compiledFunctionsMax) factories.clear();
    byName = new Map();
    factories.set(source, byName);
  }
  const nameKey = name ?? noNameKey;
  let factory = byName.get(nameKey);
  if (factory === undefined) {
    factory = buildFactory(source, name);
    byName.set(nameKey, factory);
  }
  return factory;
}

/** Tries the source as an expression (arrows, `function`, `class`), then as a method of an object
 * literal (`m() {}`, `async *m() {}`, `get x() {}`), which is how method shorthand prints itself. */
function buildFactory(source: string, name: string | undefined): Factory {
  // An anonymous function defined as a property value takes the property's name at creation, which is
  // cheaper than redefining `name` on every decode (named ones keep theirs; compileFunction fixes those).
  const expression = name === undefined ? `(${source}\n)` : `({ ${JSON.stringify(name)}: (${source}\n) })[${JSON.stringify(name)}]`;
  try {
    return new Function('require', `return ${expression};`) as Factory;
  } catch (expressionError) {
    if (!(expressionError instanceof SyntaxError)) throw expressionError;
  }
  const asMethod = `const o = ({${source}\n}); const d = Object.getOwnPropertyDescriptor(o, Reflect.ownKeys(o)[0]); return d.value ?? d.get ?? d.set;`;
  try {
    return new Function('require', asMethod) as Factory;
  } catch (methodError) {
    throw new DistError('E_DESERIALIZE_BAD_FUNCTION', 'function source does not compile', { source: source.slice(0, 200) }, { cause: methodError });
  }
}

function requireForShippedCode(): NodeJS.Require {
  if (shippedRequire === undefined) shippedRequire = createRequire(path.join(process.cwd(), 'shipped-function.js'));
  return shippedRequire;
}
