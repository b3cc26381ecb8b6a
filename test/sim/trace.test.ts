import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalJson, RollingHash, resolveConfig, runScenario } from '../../src/sim/index.js';

describe('sim/trace', () => {
  it('canonicalJson sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).to.equal('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('hashing a line in pieces equals hashing it whole (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.integer({ min: -1e12, max: 1e12 })), { maxLength: 12 }), (pieces) => {
        const whole = new RollingHash();
        whole.line(pieces.map(String).join(''));
        const parts = new RollingHash();
        for (const p of pieces) {
          if (typeof p === 'number') parts.int(p);
          else parts.text(p);
        }
        parts.endLine();
        expect(parts.digest()).to.equal(whole.digest());
      }),
    );
  });

  it('different lines give different digests', () => {
    const a = new RollingHash();
    a.line('{"t":1}');
    const b = new RollingHash();
    b.line('{"t":2}');
    expect(a.digest()).to.not.equal(b.digest());
  });

  it('a run hashes the same whether or not it writes its lines', () => {
    const config = resolveConfig({ seed: 4, workload: 'broadcast', faults: 'heavy', durationMs: 3000 });
    expect(runScenario(config).traceHash).to.equal(runScenario(config, { keepLines: true }).traceHash);
  });
});
