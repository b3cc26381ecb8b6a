import { expect } from 'chai';
import fc from 'fast-check';
import { EventQueue } from '../../src/sim/event-queue.js';

interface Ev {
  time: number;
  seq: number;
  label: number;
}

describe('sim/event-queue', () => {
  it('pops by time, and by push order among equal times', () => {
    const q = new EventQueue<Ev>();
    const times = [5, 1, 5, 0, 1, 5];
    times.forEach((time, label) => q.push({ time, seq: 0, label }));
    const popped: number[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.label);
    expect(popped).to.deep.equal([3, 1, 4, 0, 2, 5]);
  });

  it('matches a stable sort by time for any push sequence (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const q = new EventQueue<Ev>();
        times.forEach((time, label) => q.push({ time, seq: 0, label }));
        const expected = times.map((time, label) => ({ time, label })).sort((a, b) => a.time - b.time || a.label - b.label).map((e) => e.label);
        const popped: number[] = [];
        for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.label);
        expect(popped).to.deep.equal(expected);
      }),
    );
  });

  it('interleaves pushes and pops without losing order', () => {
    const q = new EventQueue<Ev>();
    q.push({ time: 10, seq: 0, label: 0 });
    q.push({ time: 3, seq: 0, label: 1 });
    expect(q.pop()?.label).to.equal(1);
    q.push({ time: 10, seq: 0, label: 2 });
    q.push({ time: 4, seq: 0, label: 3 });
    expect([q.pop()?.label, q.pop()?.label, q.pop()?.label, q.pop()]).to.deep.equal([3, 0, 2, undefined]);
  });

  it('refuses events at negative or non-finite times', () => {
    const q = new EventQueue<Ev>();
    expect(() => q.push({ time: -1, seq: 0, label: 0 })).to.throw().with.property('code', 'E_ASSERT');
    expect(() => q.push({ time: Number.NaN, seq: 0, label: 0 })).to.throw().with.property('code', 'E_ASSERT');
  });
});
