/** fast-check generators of every kind of value the serializer ships, with cycles and shared references. */
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';

/** Shipped functions are taken from a fixed pool (their sources are what travels). */
const functionPool: Function[] = [
  (a: number, b: number) => a + b,
  function classic(x: number) { return x * 2; },
  async (x: number) => x,
  ({ shorthand(y: number) { return y; } }).shorthand,
  ({ *gen() { yield 1; } }).gen,
  class Shape { area() { return 0; } },
];
const nativePool: Function[] = [fs.readFile, path.join, util.inspect, Math.max, JSON.stringify, console.log];

const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 127, 128, -129, 2 ** 31),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 120 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date(),
  fc.constantFrom(...functionPool),
  fc.constantFrom(...nativePool),
  fc.uint8Array({ maxLength: 16 }),
  fc.float64Array({ maxLength: 4 }).map((a) => new Float64Array(a)),
  fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
  fc.constantFrom(/x+/g, /^a|b$/iu),
);

const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'length', '0', '1'));

const { tree } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('node')),
  node: fc.oneof(
    fc.array(tie('tree'), { maxLength: 5 }),
    fc.sparseArray(tie('tree'), { maxLength: 8 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 5 }),
    fc.array(fc.tuple(tie('tree'), tie('tree')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('tree'), { maxLength: 4 }).map((items) => new Set(items)),
    fc.tuple(fc.constantFrom('Error', 'TypeError', 'RangeError', 'CustomError'), fc.string({ maxLength: 10 }), tie('tree'))
      .map(([name, message, cause]) => {
        const builtin = (globalThis as unknown as Record<string, ErrorConstructor | undefined>)[name];
        const error = new (builtin ?? Error)(message, { cause });
        if (builtin === undefined) error.name = name; // as a custom error class does in its constructor
        return error;
      }),
  ),
}));

/** A generated tree, then links added between its containers: shared references and cycles. */
export const valueWithSharing: fc.Arbitrary<unknown> = fc
  .tuple(tree, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 4 })), { maxLength: 4 }))
  .map(([root, links]) => {
    const containers = collectContainers(root);
    for (const [from, to, name] of links) {
      if (containers.length === 0) break;
      const source = containers[from % containers.length] as object;
      const target = containers[to % containers.length] as object;
      if (source instanceof Map) source.set(name, target);
      else if (source instanceof Set) source.add(target);
      else if (Array.isArray(source)) source.push(target); // arrays carry only their indices
      else (source as Record<string, unknown>)[`link_${name}`] = target;
    }
    return root;
  });

function collectContainers(root: unknown): object[] {
  const found: object[] = [];
  const seen = new Set<unknown>();
  const visit = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v) || v instanceof Date || v instanceof RegExp) return;
    seen.add(v);
    found.push(v);
    if (v instanceof Map) for (const [k, x] of v) { visit(k); visit(x); }
    else if (v instanceof Set) for (const x of v) visit(x);
    else if (v instanceof Error) visit(v.cause);
    else for (const x of Object.values(v)) visit(x);
  };
  visit(root);
  return found;
}
