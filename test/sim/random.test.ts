import { expect } from 'chai';
import fc from 'fast-check';
import { SimRandom } from '../../src/sim/random.js';

const draws = (r: SimRandom, n: number): number[] => Array.from({ length: n }, () => r.int(0, 1_000_000));

describe('sim/random', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    expect(draws(SimRandom.root(42), 20)).to.deep.equal(draws(SimRandom.root(42), 20));
    expect(draws(SimRandom.root(42), 20)).to.not.deep.equal(draws(SimRandom.root(43), 20));
  });

  it('forks are independent of draws on the parent and on sibling forks', () => {
    const a = SimRandom.root(7);
    const expectedNet = draws(a.fork('net'), 10);
    const b = SimRandom.root(7);
    draws(b, 100); // draws on the parent
    draws(b.fork('disk'), 100); // and on a sibling
    expect(draws(b.fork('net'), 10)).to.deep.equal(expectedNet);
  });

  it('different labels give different streams', () => {
    const root = SimRandom.root(1);
    expect(draws(root.fork('a'), 10)).to.not.deep.equal(draws(root.fork('b'), 10));
    expect(draws(root.fork('a').fork('b'), 10)).to.not.deep.equal(draws(root.fork('a/b'), 10));
  });

  it('int stays in [min, max) and chance/float stay in range (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (seed, min, width) => {
        const r = SimRandom.root(seed);
        for (let i = 0; i < 20; i++) {
          const v = r.int(min, min + width);
          expect(v).to.be.at.least(min).and.below(min + width);
          const f = r.float();
          expect(f).to.be.at.least(0).and.below(1);
        }
        expect(r.chance(0, 5)).to.equal(false);
        expect(r.chance(5, 5)).to.equal(true);
      }),
    );
  });
});
