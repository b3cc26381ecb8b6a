/**
 * Test helpers for the serializer: a structural comparison that also checks the sharing structure
 * (two paths to one object in `a` must be two paths to one object in `b`, and vice versa), and a
 * snapshot of a value used to prove serialization does not mutate its input. Written independently of
 * the serializer so that it can judge it.
 */
export function sameGraph(a: unknown, b: unknown): string | undefined {
  return compare(a, b, new Map(), new Map(), '$');
}

function compare(a: unknown, b: unknown, aToB: Map<object, unknown>, bToA: Map<object, unknown>, where: string): string | undefined {
  if (typeof a !== typeof b) return `${where}: ${typeof a} vs ${typeof b}`;
  if (a === null || b === null || (typeof a !== 'object' && typeof a !== 'function')) {
    return Object.is(a, b) ? undefined : `${where}: ${String(a)} vs ${String(b)}`;
  }
  const objectA = a as object;
  const objectB = b as object;
  if (aToB.has(objectA) || bToA.has(objectB)) {
    return aToB.get(objectA) === objectB && bToA.get(objectB) === objectA ? undefined : `${where}: sharing differs`;
  }
  aToB.set(objectA, objectB);
  bToA.set(objectB, objectA);
  return compareObjects(objectA, objectB, aToB, bToA, where);
}

function compareObjects(a: object, b: object, aToB: Map<object, unknown>, bToA: Map<object, unknown>, where: string): string | undefined {
  if (typeof a === 'function') {
    const fa = a as Function;
    const fb = b as Function;
    if (fa.name !== fb.name) return `${where}: function name ${fa.name} vs ${fb.name}`;
    return Function.prototype.toString.call(fa) === Function.prototype.toString.call(fb) ? undefined : `${where}: function source differs`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${where}: prototypes differ`;
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime()) ? undefined : `${where}: dates differ`;
  if (a instanceof RegExp) return String(a) === String(b) ? undefined : `${where}: regexps differ`;
  if (ArrayBuffer.isView(a)) return bytesOf(a) === bytesOf(b as ArrayBufferView) ? undefined : `${where}: bytes differ`;
  if (a instanceof ArrayBuffer) return Buffer.from(a).equals(Buffer.from(b as ArrayBuffer)) ? undefined : `${where}: buffers differ`;
  if (a instanceof Map) return compareSequences([...a].flat(), [...(b as Map<unknown, unknown>)].flat(), aToB, bToA, `${where}<map>`);
  if (a instanceof Set) return compareSequences([...a], [...(b as Set<unknown>)], aToB, bToA, `${where}<set>`);
  if (a instanceof Error) {
    const fields = ['name', 'message', 'cause'] as const;
    for (const field of fields) {
      const problem = compare((a as any)[field], (b as any)[field], aToB, bToA, `${where}.${field}`);
      if (problem) return problem;
    }
  }
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return `${where}: lengths ${a.length} vs ${(b as unknown[]).length}`;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.join('\u0000') !== keysB.join('\u0000')) return `${where}: keys [${keysA}] vs [${keysB}]`;
  for (const key of keysA) {
    const problem = compare((a as any)[key], (b as any)[key], aToB, bToA, `${where}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}

function compareSequences(a: unknown[], b: unknown[], aToB: Map<object, unknown>, bToA: Map<object, unknown>, where: string): string | undefined {
  if (a.length !== b.length) return `${where}: sizes differ`;
  for (let i = 0; i < a.length; i++) {
    const problem = compare(a[i], b[i], aToB, bToA, `${where}[${i}]`);
    if (problem) return problem;
  }
  return undefined;
}

function bytesOf(view: ArrayBufferView): string {
  return `${view.constructor.name}:${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex')}`;
}

/** A description of a value's whole graph (identities as first-visit numbers, every own property and
 * descriptor), so any mutation of the input shows up as a different string. */
export function snapshot(value: unknown): string {
  const ids = new Map<object, number>();
  const visit = (v: unknown): unknown => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (v === undefined) return '<undefined>';
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v;
    const known = ids.get(v as object);
    if (known !== undefined) return `<#${known}>`;
    ids.set(v as object, ids.size);
    const own = Reflect.ownKeys(v as object).map((key) => {
      const d = Object.getOwnPropertyDescriptor(v, key) as PropertyDescriptor;
      return [String(key), 'value' in d ? visit(d.value) : '<accessor>', d.enumerable, d.writable];
    });
    const extra = v instanceof Map ? [...v].map(([k, x]) => [visit(k), visit(x)]) : v instanceof Set ? [...v].map(visit) : v instanceof Date ? v.getTime() : ArrayBuffer.isView(v) ? bytesOf(v) : null;
    return { id: ids.get(v as object), proto: String(Object.getPrototypeOf(v)?.constructor?.name), own, extra };
  };
  return JSON.stringify(visit(value));
}
