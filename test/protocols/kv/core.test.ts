/** Pure group-storage rules: version order, merge, tokens, and the reconfiguration planner. */
import { expect } from 'chai';
import fc from 'fast-check';
import { compareMeta, handOff, mergeRecords, NodePlacer, planReconf, Token, type KvRecord } from '../../../src/protocols/kv/core.js';

const placer = new NodePlacer({ scheme: 'consistent', vnodes: 16 });
const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);

describe('kv core (pure)', () => {
  it('merge keeps the newest version per key, whatever the order and duplication', () => {
    const record = fc.record({ key: fc.constantFrom('a', 'b', 'c'), meta: fc.record({ counter: fc.nat(5), node: fc.constantFrom('n1', 'n2'), deleted: fc.boolean() }) });
    fc.assert(fc.property(fc.array(record, { maxLength: 20 }), (records) => {
      const forward = new Map<string, KvRecord>();
      const backward = new Map<string, KvRecord>();
      mergeRecords(forward, records);
      mergeRecords(backward, [...records, ...records].reverse());
      for (const [key, r] of forward) {
        expect(compareMeta(r.meta, (backward.get(key) as KvRecord).meta)).to.equal(0);
        for (const other of records.filter((o) => o.key === key)) expect(compareMeta(other.meta, r.meta)).to.be.at.most(0);
      }
    }));
  });

  it('planReconf lists exactly the keys whose owner changed, each from its holder to its new owner', () => {
    fc.assert(fc.property(fc.subarray(nodes, { minLength: 1 }), fc.subarray(nodes, { minLength: 1 }), (before, after) => {
      const owner = placer.forMembers(before);
      const keysByNode = new Map(before.map((id) => [id, keys.filter((k) => owner(k) === id)]));
      const moves = planReconf(keysByNode, after, placer);
      const newOwner = placer.forMembers(after);
      expect(moves.map((m) => m.key).sort()).to.deep.equal(keys.filter((k) => owner(k) !== newOwner(k)).sort());
      for (const m of moves) expect([m.from, m.to]).to.deep.equal([owner(m.key), newOwner(m.key)]);
      expect(planReconf(keysByNode, after, placer)).to.deep.equal(moves); // deterministic
    }), { numRuns: 50 });
  });

  it('a holder hands off exactly the keys the puller\'s view places on the puller', () => {
    const claim = { puller: 'n2', members: ['n1', 'n2', 'n3'] };
    const place = placer.forMembers(claim.members);
    expect(handOff(keys, claim, placer)).to.deep.equal(keys.filter((k) => place(k) === 'n2'));
  });

  it('a token stops covering what a puller claimed; claims from the same view are disjoint and ignored', () => {
    const token = new Token('n1', ['n1', 'n2', 'n3']);
    const mine = keys.filter((k) => token.covers(k, placer));
    expect(mine.length).to.be.above(0);
    token.subtract({ puller: 'n2', members: ['n1', 'n2', 'n3'] });
    expect(token.claimCount).to.equal(0);
    token.subtract({ puller: 'n2', members: ['n2', 'n3'] }); // n2 thinks n1 is gone
    expect(token.claimCount).to.equal(1);
    const n2Claims = placer.forMembers(['n2', 'n3']);
    expect(keys.filter((k) => token.covers(k, placer))).to.deep.equal(mine.filter((k) => n2Claims(k) !== 'n2'));
  });
});
