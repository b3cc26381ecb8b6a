/**
 * Run as a script by serialize.test.ts: checks that the course's reference implementation
 * (@brown-ds/distribution) and our text form read each other, and prints one JSON report.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { deserialize, serialize } from '../../src/serialize/index.js';

const require = createRequire(import.meta.url);
const reference = require('@brown-ds/distribution/distribution/util/serialization.js') as { serialize(v: unknown): string; deserialize(s: string): unknown };

const o: any = { n: 1, s: 'x "q"', list: [1, 'two', null, undefined, true], d: new Date(5), big: 2n ** 70n, f: (a: number) => a + 1, read: fs.readFile, e: new Error('boom') };
o.self = o;
o.again = o.list;

const fromReference = deserialize(reference.serialize(o)) as any;
const fromUs = reference.deserialize(serialize(o)) as any;
const report: Record<string, boolean> = {
  'we read its cycles': fromReference.self === fromReference,
  'we read its shared references': fromReference.again === fromReference.list,
  'we read its functions': fromReference.f(1) === 2,
  'we read its natives as identical': fromReference.read === fs.readFile,
  'we read its errors': fromReference.e instanceof Error && fromReference.e.message === 'boom',
  'we read its primitives': JSON.stringify([fromReference.n, fromReference.s, String(fromReference.big), fromReference.d.getTime()]) === JSON.stringify([1, 'x "q"', String(2n ** 70n), 5]),
  'it reads our cycles': fromUs.self === fromUs,
  'it reads our shared references': fromUs.again === fromUs.list,
  'it reads our arrays with undefined': fromUs.list.length === 5 && fromUs.list[3] === undefined && fromUs.list[4] === true,
  'it reads our bigints': fromUs.big === o.big,
  'it reads our functions': fromUs.f(1) === 2,
  'it reads our natives as identical': fromUs.read === fs.readFile,
  'it reads our errors': fromUs.e instanceof Error && fromUs.e.message === 'boom',
  'same text for plain data': reference.serialize({ a: [1, 'b', null] }) === serialize({ a: [1, 'b', null] }),
};
process.stdout.write(JSON.stringify(report));
