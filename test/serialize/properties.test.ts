import { expect } from 'chai';
import fc from 'fast-check';
import { decode, deserialize, encode, serialize } from '../../src/serialize/index.js';
import { valueWithSharing } from './arbitraries.js';
import { sameGraph, snapshot } from './graph.js';

const runs = { numRuns: 300 };

describe('serialize: properties over generated values', () => {
  it('text round trip keeps every value and its sharing structure', () => {
    fc.assert(fc.property(valueWithSharing, (v) => {
      const problem = sameGraph(deserialize(serialize(v)), v);
      expect(problem, problem).to.equal(undefined);
    }), runs);
  });

  it('binary round trip keeps every value and its sharing structure', () => {
    fc.assert(fc.property(valueWithSharing, (v) => {
      const problem = sameGraph(decode(encode(v)), v);
      expect(problem, problem).to.equal(undefined);
    }), runs);
  });

  it('is deterministic: the same value gives the same text and the same bytes', () => {
    fc.assert(fc.property(valueWithSharing, (v) => {
      expect(serialize(v)).to.equal(serialize(v));
      expect(Buffer.from(encode(v)).equals(Buffer.from(encode(v)))).to.equal(true);
    }), runs);
  });

  it('is stable: what comes back serializes to the same text and bytes', () => {
    fc.assert(fc.property(valueWithSharing, (v) => {
      const text = serialize(v);
      expect(serialize(deserialize(text))).to.equal(text);
      const bytes = encode(v);
      expect(Buffer.from(encode(decode(bytes))).equals(Buffer.from(bytes))).to.equal(true);
    }), runs);
  });

  it('never mutates its input', () => {
    fc.assert(fc.property(valueWithSharing, (v) => {
      const before = snapshot(v);
      serialize(v);
      encode(v);
      expect(snapshot(v)).to.equal(before);
    }), runs);
  });

  it('keeps earlier encodings intact while later ones are carved from the shared chunk', () => {
    fc.assert(fc.property(fc.array(valueWithSharing, { minLength: 2, maxLength: 40 }), (values) => {
      const encoded = values.map((v) => encode(v));
      const copies = encoded.map((bytes) => bytes.slice());
      for (let i = 0; i < 50; i++) encode({ filler: 'x'.repeat(i * 37), i }); // spill into new chunks
      encoded.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(copies[i] as Uint8Array))).to.equal(true));
    }), { numRuns: 100 });
  });
});
