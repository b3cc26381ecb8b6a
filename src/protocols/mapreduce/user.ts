/**
 * Running user functions (map, compact, reduce) so that one that throws, answers the wrong shape or
 * runs too long is reported with the key it failed on and never takes the node down.
 *
 * JavaScript cannot preempt a synchronous function: a user function in an endless loop blocks its
 * node's event loop, and nothing inside that process can stop it. What this module bounds is what can
 * be bounded: every call is timed with the caller's clock (env.clock on a worker), and a call longer
 * than `callMsMax`, or a task whose calls add up past `taskMsMax`, fails the attempt with
 * E_MR_USER_SLOW / E_MR_USER_TASK_BUDGET naming the key, as soon as the function returns. A function
 * that never returns is caught one level up: the coordinator's per-attempt deadline (core.ts) expires,
 * the task is re-executed on another holder, and after `attemptsMax` attempts the job fails naming the
 * task's keys.
 */
import { DistError } from '../../lib/errors.js';

export type Pair = [string, unknown];
export type UserFnKind = 'map' | 'compact' | 'reduce';

export interface CallBudget {
  readonly now: () => number;
  readonly callMsMax: number;
  readonly taskMsMax: number;
  /** When the task began, on the same clock. */
  readonly taskStartMs: number;
}

const codeOf = (kind: UserFnKind, what: 'THREW' | 'SHAPE'): string => `E_MR_${kind.toUpperCase()}_${what}`;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** Calls `fn(key, arg)` under the budget; the answer, or a coded error naming the key. */
export function callUser(kind: UserFnKind, fn: Function, key: string, arg: unknown, budget: CallBudget): unknown {
  const beforeMs = budget.now();
  let out: unknown;
  try {
    out = fn(key, arg);
  } catch (cause) {
    const message = (cause as Error)?.message ?? String(cause);
    return new DistError(codeOf(kind, 'THREW'), `${kind} threw on key ${JSON.stringify(key)}: ${message}`, { key, fn: kind, message }, { cause });
  }
  const afterMs = budget.now();
  if (afterMs - beforeMs > budget.callMsMax) {
    return new DistError('E_MR_USER_SLOW', `${kind} took ${afterMs - beforeMs} ms on key ${JSON.stringify(key)} (budget ${budget.callMsMax} ms per call)`, { key, fn: kind, ms: afterMs - beforeMs });
  }
  if (afterMs - budget.taskStartMs > budget.taskMsMax) {
    return new DistError('E_MR_USER_TASK_BUDGET', `${kind} task passed its ${budget.taskMsMax} ms budget at key ${JSON.stringify(key)}`, { key, fn: kind });
  }
  return out;
}

/** Calls `visit` on each pair of one `{k: v}` object; false when `out` is not a plain object. */
function visitObject(out: unknown, visit: (k: string, v: unknown) => void): boolean {
  if (typeof out !== 'object' || out === null || Array.isArray(out)) return false;
  // Object.keys: the own enumerable keys in for-in order, faster than for-in plus hasOwn on the
  // dictionary-mode objects word counts are.
  const keys = Object.keys(out);
  for (let i = 0; i < keys.length; i++) visit(keys[i] as string, (out as Record<string, unknown>)[keys[i] as string]);
  return true;
}

function pushObject(out: unknown, into: Pair[]): boolean {
  return visitObject(out, (k, v) => into.push([k, v]));
}

/** Map answers `{k: v}` or an array of them (COURSE-API); anything else is E_MR_MAP_SHAPE. Each pair
 * goes to `visit` as it is found (no intermediate list). */
export function visitMapOutput(out: unknown, key: string, visit: (k: string, v: unknown) => void): DistError | undefined {
  if (Array.isArray(out)) {
    for (const item of out) if (!visitObject(item, visit)) return shapeError('map', key, item, 'an object {k: v} or an array of them');
    return undefined;
  }
  return visitObject(out, visit) ? undefined : shapeError('map', key, out, 'an object {k: v} or an array of them');
}

export function mapPairs(out: unknown, key: string, into: Pair[]): DistError | undefined {
  return visitMapOutput(out, key, (k, v) => into.push([k, v]));
}

/** Reduce and compact answer one object `{k: aggregate}`. */
export function objectPairs(kind: 'compact' | 'reduce', out: unknown, key: string, into: Pair[]): DistError | undefined {
  return pushObject(out, into) ? undefined : shapeError(kind, key, out, 'one object {k: aggregate}');
}

function shapeError(kind: UserFnKind, key: string, got: unknown, wanted: string): DistError {
  return new DistError(codeOf(kind, 'SHAPE'), `${kind} on key ${JSON.stringify(key)} answered ${describe(got)}, not ${wanted}`, { key, fn: kind, got: describe(got) });
}

/** Adds one value under its key, keeping each key's values in arrival order (the stable reduce input order). */
export function groupOne(groups: Map<string, unknown[]>, k: string, v: unknown): void {
  const values = groups.get(k);
  if (values === undefined) groups.set(k, [v]);
  else values.push(v);
}

export function groupPairs(pairs: Iterable<Pair>, into = new Map<string, unknown[]>()): Map<string, unknown[]> {
  for (const [k, v] of pairs) groupOne(into, k, v);
  return into;
}

/** Runs `fn(k, values)` per key in sorted key order and collects the answered pairs (compact, reduce). */
export function aggregate(kind: 'compact' | 'reduce', fn: Function, groups: Map<string, unknown[]>, budget: CallBudget): Pair[] | DistError {
  const keys = [...groups.keys()].sort();
  const pairs: Pair[] = [];
  for (const k of keys) {
    const out = callUser(kind, fn, k, groups.get(k), budget);
    if (out instanceof DistError) return out;
    const bad = objectPairs(kind, out, k, pairs);
    if (bad !== undefined) return bad;
  }
  return pairs;
}

/** Pairs as two parallel arrays (`values[i]` belongs to `keys[i]`): the form batches and reduce
 * answers travel in, about 2.5× cheaper to encode and decode than an array of `[k, v]` pairs. */
export interface Columns {
  readonly keys: string[];
  readonly values: unknown[];
}

/** Adds each pair of a columns bucket under its key, in position order. */
export function groupColumns(columns: Columns, into: Map<string, unknown[]>): Map<string, unknown[]> {
  const { keys, values } = columns;
  for (let i = 0; i < keys.length; i++) groupOne(into, keys[i] as string, values[i]);
  return into;
}

/** `aggregate` answering columns. `sorted`: run in sorted key order (reduce, whose answer order is
 * documented); else in the groups' insertion order, which is deterministic too (compact: saves a sort
 * per task and partition). */
export function aggregateColumns(kind: 'compact' | 'reduce', fn: Function, groups: Map<string, unknown[]>, budget: CallBudget, sorted: boolean): Columns | DistError {
  const out: Columns = { keys: [], values: [] };
  const visit = (k: string, v: unknown): void => {
    out.keys.push(k);
    out.values.push(v);
  };
  for (const k of sorted ? [...groups.keys()].sort() : groups.keys()) {
    const answer = callUser(kind, fn, k, groups.get(k), budget);
    if (answer instanceof DistError) return answer;
    if (!visitObject(answer, visit)) return shapeError(kind, k, answer, 'one object {k: aggregate}');
  }
  return out;
}
