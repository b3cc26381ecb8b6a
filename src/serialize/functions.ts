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

export type FunctionForm =
  | { readonly kind: 'native'; readonly path: string }
  | { readonly kind: 'source'; readonly source: string; readonly name: string | undefined };

type Factory = (require: NodeJS.Require) => Function;

const factories = new Map<string, Factory>();
let shippedRequire: NodeJS.Require | undefined;

const nativeSourceSuffix = /\{\s*\[native code\]\s*\}$/;

/** How `fn` travels: by native path or by source (with its name when the source does not imply it). */
export function functionForm(fn: Function, where: () => string): FunctionForm {
  const nativePath = nativePathOf(fn);
  if (nativePath !== undefined) return { kind: 'native', path: nativePath };
  const source = Function.prototype.toString.call(fn);
  if (nativeSourceSuffix.test(source)) {
    throw new DistError('E_SERIALIZE_NATIVE_UNKNOWN', `native function '${fn.name}' at ${where()} is not a function of Node's built-in modules and has no source to ship`, { name: fn.name });
  }
  const name = fn.name === impliedName(source) ? undefined : fn.name;
  return { kind: 'source', source, name };
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
    fn = factoryFor(source)(requireForShippedCode());
  } catch (cause) {
    if (cause instanceof DistError) throw cause;
    // The source is an expression that threw while evaluating (not a function literal at all).
    throw new DistError('E_DESERIALIZE_BAD_FUNCTION', 'function source threw when evaluated', { source: source.slice(0, 200) }, { cause });
  }
  if (typeof fn !== 'function') throw new DistError('E_DESERIALIZE_BAD_FUNCTION', 'function source does not evaluate to a function', { source: source.slice(0, 200) });
  if (name !== undefined && fn.name !== name) Object.defineProperty(fn, 'name', { value: name, configurable: true });
  return fn;
}

function factoryFor(source: string): Factory {
  let factory = factories.get(source);
  if (factory === undefined) {
    factory = buildFactory(source);
    if (factories.size >= compiledFunctionsMax) factories.clear();
    factories.set(source, factory);
  }
  return factory;
}

/** Tries the source as an expression (arrows, `function`, `class`), then as a method of an object
 * literal (`m() {}`, `async *m() {}`, `get x() {}`), which is how method shorthand prints itself. */
function buildFactory(source: string): Factory {
  try {
    return new Function('require', `return (${source}\n);`) as Factory;
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
