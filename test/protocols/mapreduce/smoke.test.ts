import { expect } from 'chai';
import { asObject, mrCluster, runJob } from './helpers.js';

describe('mr smoke', () => {
  it('word count', () => {
    const input = { d1: 'the cat sat', d2: 'the dog', d3: 'a cat a dog', d4: 'zebra' };
    const sim = mrCluster(3, input);
    sim.runUntil(100);
    const [err, results] = runJob(sim, {
      keys: Object.keys(input),
      map: (_k: string, v: string) => v.split(' ').map((w) => ({ [w]: 1 })),
      reduce: (k: string, vs: number[]) => ({ [k]: vs.reduce((a, b) => a + b, 0) }),
    });
    expect(err).to.equal(null);
    expect(asObject(results)).to.deep.equal({ a: 2, cat: 2, dog: 2, sat: 1, the: 2, zebra: 1 });
  });
});
