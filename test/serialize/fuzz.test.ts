import { expect } from 'chai';
import fc from 'fast-check';
import { decode, deserialize, encode, serialize } from '../../src/serialize/index.js';
import { valueWithSharing } from './arbitraries.js';

/** Every error deserialize/decode may throw, and nothing else. */
const documentedCodes = new Set([
  'E_DESERIALIZE_MALFORMED', 'E_DESERIALIZE_UNKNOWN_TYPE', 'E_DESERIALIZE_BAD_REFERENCE', 'E_DESERIALIZE_TOO_DEEP',
  'E_DESERIALIZE_TOO_LARGE', 'E_DESERIALIZE_TRUNCATED', 'E_DESERIALIZE_FUNCTIONS_REFUSED', 'E_DESERIALIZE_BAD_FUNCTION',
  'E_DESERIALIZE_NATIVE_UNKNOWN', 'E_DESERIALIZE_UNKNOWN_CLASS',
]);

function onlyDocumentedErrors(run: () => unknown, syntaxErrorAllowed: boolean): void {
  try {
    run();
  } catch (error) {
    if (syntaxErrorAllowed && error instanceof SyntaxError) return;
    const code = (error as { code?: unknown }).code;
    expect(documentedCodes.has(code as string), `undocumented error: ${String(error)} (${String(code)})`).to.equal(true);
  }
}

/** A mutation of a document: overwrite, delete or insert at a position. */
const mutation = fc.tuple(fc.constantFrom('overwrite', 'delete', 'insert'), fc.nat(), fc.integer({ min: 0, max: 255 }));

function mutateText(text: string, [kind, at, code]: [string, number, number]): string {
  const i = at % (text.length + 1);
  const char = String.fromCharCode(code);
  if (kind === 'delete') return text.slice(0, i) + text.slice(i + 1);
  if (kind === 'insert') return text.slice(0, i) + char + text.slice(i);
  return text.slice(0, i) + char + text.slice(i + 1);
}

function mutateBytes(bytes: Uint8Array, [kind, at, value]: [string, number, number]): Uint8Array {
  const i = at % (bytes.length + 1);
  const list = [...bytes];
  if (kind === 'delete') list.splice(i, 1);
  else if (kind === 'insert') list.splice(i, 0, value);
  else list[Math.min(i, list.length - 1)] = value;
  return Uint8Array.from(list);
}

describe('serialize: fuzzing', () => {
  it('random strings give a value, a SyntaxError or a documented coded error', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      onlyDocumentedErrors(() => deserialize(text), true);
      onlyDocumentedErrors(() => deserialize(text, { functions: false }), true);
    }), { numRuns: 2_000 });
  });

  it('well-formed JSON in the shape of the format, with random tags and values, gives only coded errors', () => {
    const node = fc.letrec((tie) => ({
      node: fc.record({
        type: fc.constantFrom('number', 'string', 'boolean', 'null', 'undefined', 'bigint', 'date', 'array', 'object', 'error', 'function', 'native', 'reference', 'map', 'set', 'regexp', 'typedarray', 'buffer', 'arraybuffer', 'class', 'bogus'),
        value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.dictionary(fc.string({ maxLength: 3 }), tie('node'), { maxKeys: 3 }), fc.array(fc.oneof(tie('node'), fc.nat(), fc.string({ maxLength: 4 })), { maxLength: 3 }), fc.nat()),
      }, { requiredKeys: [] }),
    })).node;
    fc.assert(fc.property(node, (tree) => {
      onlyDocumentedErrors(() => deserialize(JSON.stringify(tree), { functions: false }), false);
    }), { numRuns: 2_000 });
  });

  it('mutations of valid text documents give only documented errors', () => {
    fc.assert(fc.property(valueWithSharing, fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, mutations) => {
      const text = mutations.reduce(mutateText, serialize(value));
      onlyDocumentedErrors(() => deserialize(text, { functions: false }), true);
    }), { numRuns: 1_000 });
  });

  it('random bytes and mutations of valid binary documents give only documented errors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      onlyDocumentedErrors(() => decode(bytes, { functions: false }), false);
    }), { numRuns: 2_000 });
    fc.assert(fc.property(valueWithSharing, fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, mutations) => {
      const bytes = mutations.reduce(mutateBytes, encode(value));
      onlyDocumentedErrors(() => decode(bytes, { functions: false }), false);
    }), { numRuns: 1_000 });
  });

  it('mutated function sources that compile or throw are contained in coded errors', () => {
    const sources = ['(a, b) => a + b', 'function f(x) { return x; }', 'async () => 1', 'm() { return 2; }', 'class A {}'];
    fc.assert(fc.property(fc.constantFrom(...sources), mutation, (source, change) => {
      const text = JSON.stringify({ type: 'function', value: mutateText(source, change) });
      onlyDocumentedErrors(() => deserialize(text), false);
    }), { numRuns: 1_000 });
  });

  it('10 MB of random bytes get a result or an error in bounded time, in both forms', () => {
    const random = new Uint8Array(10 * 1024 * 1024);
    let state = 12345;
    for (let i = 0; i < random.length; i++) {
      state = (state * 1_103_515_245 + 12_345) >>> 0; // a fixed LCG: the test is the same every run
      random[i] = state >>> 24;
    }
    onlyDocumentedErrors(() => decode(random), false);
    onlyDocumentedErrors(() => deserialize(Buffer.from(random).toString('latin1')), true);
  });

  it('a 1,000,000-deep nested array document gets a coded error, not a stack overflow', () => {
    const depth = 1_000_000;
    const text = '{"type":"array","value":{"0":'.repeat(depth) + '{"type":"null","value":""}' + '}}'.repeat(depth);
    expect(() => deserialize(text)).to.throw().with.property('code', 'E_DESERIALIZE_TOO_DEEP');
    const bytes = new Uint8Array(5 * depth + 1);
    for (let i = 0; i < depth; i++) bytes.set([0x0c, 1, 0, 0, 0], 5 * i);
    bytes[5 * depth] = 0x01;
    expect(() => decode(bytes)).to.throw().with.property('code', 'E_DESERIALIZE_TOO_DEEP');
  });
});
