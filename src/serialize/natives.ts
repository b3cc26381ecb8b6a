/**
 * Native functions: the functions of Node's built-in modules (and of the ECMAScript globals) travel by
 * name, `fs.readFile`, and come back as the identical function object on the receiving side.
 *
 * The index is built once, lazily, by walking every built-in module Node lists (`module.builtinModules`),
 * not from a hand list. The walk is breadth first over all modules at once, so each function gets its
 * shortest path; public modules come before the underscored legacy ones (`http.Agent`, not
 * `_http_agent.Agent`). ECMAScript globals are indexed under `globalThis.` with names taken from a fresh
 * `vm` realm, so globals the program added itself (such as `globalThis.distribution`) never count as native.
 */
import { builtinModules } from 'node:module';
import vm from 'node:vm';
import { nativeWalkDepthMax } from './limits.js';

interface NativeIndex {
  readonly pathByFunction: Map<Function, string>;
  readonly functionByPath: Map<string, Function>;
}

let index: NativeIndex | undefined;

const globalRootName = 'globalThis';

/** The path of a native function, or undefined when `fn` is not one. */
export function nativePathOf(fn: Function): string | undefined {
  return nativeIndex().pathByFunction.get(fn);
}

/** The native function at `path`, or undefined. Aliases (`fs.promises.readFile` for
 * `fs/promises.readFile`) resolve too, but only to functions the index holds: walking arbitrary
 * property paths from a peer (`fs.readFile.constructor`) would hand out the `Function` constructor. */
export function nativeAt(path: string): Function | undefined {
  const { functionByPath, pathByFunction } = nativeIndex();
  const direct = functionByPath.get(path);
  if (direct !== undefined) return direct;
  const found = navigate(path);
  return typeof found === 'function' && pathByFunction.has(found) ? found : undefined;
}

/** Every indexed native path, in walk order (for tests and docs). */
export function nativePaths(): string[] {
  return [...nativeIndex().functionByPath.keys()];
}

function navigate(path: string): unknown {
  const steps = path.split('.');
  const rootName = steps.shift() as string;
  let current: unknown = loadRoot(rootName);
  for (const step of steps) {
    if (current === null || (typeof current !== 'object' && typeof current !== 'function')) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, step)) return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

function loadRoot(name: string): unknown {
  if (name === globalRootName) return globalThis;
  if (!builtinModules.includes(name)) return undefined;
  return process.getBuiltinModule(name);
}

function nativeIndex(): NativeIndex {
  if (index === undefined) index = buildIndex();
  return index;
}

interface WalkItem {
  readonly path: string;
  readonly value: object;
  readonly depth: number;
}

function buildIndex(): NativeIndex {
  const pathByFunction = new Map<Function, string>();
  const functionByPath = new Map<string, Function>();
  const visited = new Set<object>();
  // Loading some modules (wasi, punycode, sys) prints an experimental or deprecation warning; the walk
  // is not the program's own use of them, so it stays quiet. Under Jest `process` is a per-test copy and
  // Node warns through the real one, so both are silenced.
  const processes = [...new Set([process, process.getBuiltinModule('process') as NodeJS.Process])];
  const emitWarnings = processes.map((p) => p.emitWarning);
  for (const p of processes) p.emitWarning = () => undefined;
  try {
    const queue: WalkItem[] = rootItems();
    for (let head = 0; head < queue.length; head++) {
      const item = queue[head] as WalkItem;
      if (visited.has(item.value)) continue;
      visited.add(item.value);
      if (typeof item.value === 'function' && !pathByFunction.has(item.value)) {
        pathByFunction.set(item.value, item.path);
        functionByPath.set(item.path, item.value);
      }
      if (item.depth < nativeWalkDepthMax) enqueueChildren(item, queue);
    }
  } finally {
    processes.forEach((p, i) => (p.emitWarning = emitWarnings[i] as NodeJS.Process['emitWarning']));
  }
  return { pathByFunction, functionByPath };
}

function rootItems(): WalkItem[] {
  const names = [...builtinModules].sort();
  const publicNames = names.filter((name) => !name.startsWith('_'));
  const legacyNames = names.filter((name) => name.startsWith('_'));
  const items: WalkItem[] = [];
  for (const name of publicNames) pushModule(items, name);
  const realmGlobals = vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
  for (const name of realmGlobals) {
    const value = (globalThis as Record<string, unknown>)[name];
    // `globalThis.globalThis` would lead back to every global the program added itself.
    if (isWalkable(value) && value !== globalThis) items.push({ path: `${globalRootName}.${name}`, value, depth: 1 });
  }
  for (const name of legacyNames) pushModule(items, name);
  return items;
}

function pushModule(items: WalkItem[], name: string): void {
  let value: unknown;
  try {
    value = process.getBuiltinModule(name);
  } catch {
    return; // a module this build of Node cannot load (e.g. inspector without support)
  }
  if (isWalkable(value)) items.push({ path: name, value, depth: 0 });
}

function enqueueChildren(item: WalkItem, queue: WalkItem[]): void {
  for (const key of Object.getOwnPropertyNames(item.value)) {
    const child = readOwn(item.value, key, item.depth === 0);
    if (isWalkable(child)) queue.push({ path: `${item.path}.${key}`, value: child, depth: item.depth + 1 });
  }
}

/** Reads a data property; getters only at a module's top level (`fs.promises`), where they are lazy
 * exports rather than behaviour, and never if they throw. */
function readOwn(owner: object, key: string, allowGetter: boolean): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(owner, key);
  if (descriptor === undefined) return undefined;
  if ('value' in descriptor) return descriptor.value;
  if (!allowGetter || descriptor.get === undefined) return undefined;
  try {
    return descriptor.get.call(owner);
  } catch {
    return undefined;
  }
}

function isWalkable(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}
