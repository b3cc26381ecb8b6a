/** Placement core: course compatibility, determinism, no mutation, balance, minimal movement. */
import { expect } from 'chai';
import fc from 'fast-check';
import { consistentHash, getID, naiveHash, rendezvousHash } from '../../../src/protocols/node/id.js';
import {
  buildRing, loadOf, loadStats, movedCount, ownerOf, parsePlacement, placer, ringOwner, type Placement,
} from '../../../src/protocols/kv/placement.js';

const nidsOf = (n: number, salt = ''): string[] => Array.from({ length: n }, (_, i) => getID({ ip: `10.0.0.${i}${salt}`, port: 7000 }));
const kidsOf = (n: number): string[] => Array.from({ length: n }, (_, i) => getID(`key-${i}`));
const hexId = fc.string({ minLength: 1, maxLength: 12 }).map((s) => getID(s));
const members = fc.uniqueArray(hexId, { minLength: 1, maxLength: 12 });

describe('kv placement (pure)', () => {
  it('matches the course hash functions for the plain variants', () => {
    fc.assert(fc.property(hexId, members, (kid, nids) => {
      expect(ownerOf({ scheme: 'naive' }, kid, nids)).to.equal(naiveHash(kid, nids));
      expect(ownerOf({ scheme: 'consistent', vnodes: 0 }, kid, nids)).to.equal(consistentHash(kid, nids));
      expect(ownerOf({ scheme: 'rendezvous' }, kid, nids)).to.equal(rendezvousHash(kid, nids));
    }), { numRuns: 300 });
  });

  it('is deterministic, picks a member, and never mutates the member list', () => {
    const schemes: Placement[] = [{ scheme: 'naive' }, { scheme: 'consistent', vnodes: 0 }, { scheme: 'consistent', vnodes: 16 }, { scheme: 'rendezvous' }];
    fc.assert(fc.property(hexId, members, fc.constantFrom(...schemes), (kid, nids, placement) => {
      const copy = [...nids];
      const owner = ownerOf(placement, kid, nids);
      expect(nids).to.deep.equal(copy);
      expect(nids).to.include(owner);
      expect(ownerOf(placement, kid, [...nids].reverse())).to.equal(owner); // member order does not matter
    }), { numRuns: 300 });
  });

  it('ring lookup: first point strictly after the key, wrapping', () => {
    const ring = buildRing(nidsOf(4), 3);
    const sorted = ring.map((p) => p.at);
    expect([...sorted].sort()).to.deep.equal(sorted);
    expect(ringOwner(ring, sorted[0] as string)).to.equal(ring[1]?.nid);
    expect(ringOwner(ring, 'f'.repeat(64))).to.equal(ring[0]?.nid);
    expect(ringOwner(ring, '0'.repeat(64))).to.equal(ring[0]?.nid);
  });

  it('balance: rendezvous and consistent with many vnodes stay near the mean', () => {
    const kids = kidsOf(20_000);
    const nids = nidsOf(10);
    expect(loadStats(loadOf({ scheme: 'rendezvous' }, kids, nids)).worstOverMean).to.be.below(1.1);
    expect(loadStats(loadOf({ scheme: 'consistent', vnodes: 500 }, kids, nids)).worstOverMean).to.be.below(1.15);
    expect(loadStats(loadOf({ scheme: 'consistent', vnodes: 500 }, kids, nids)).worstOverMean)
      .to.be.below(loadStats(loadOf({ scheme: 'consistent', vnodes: 0 }, kids, nids)).worstOverMean);
  });

  it('minimal movement: on join only keys that go to the newcomer move; on leave only the leaver\'s keys', () => {
    const kids = kidsOf(2_000);
    fc.assert(fc.property(fc.constantFrom<Placement>({ scheme: 'consistent', vnodes: 8 }, { scheme: 'consistent', vnodes: 0 }, { scheme: 'rendezvous' }),
      fc.integer({ min: 2, max: 8 }), (placement, n) => {
        const before = nidsOf(n);
        const joiner = getID('joiner');
        const after = [...before, joiner];
        const placeBefore = placer(placement, before);
        const placeAfter = placer(placement, after);
        for (const kid of kids) {
          const [b, a] = [placeBefore(kid), placeAfter(kid)];
          if (b !== a) expect(a).to.equal(joiner); // join: a key moves only to the newcomer
        }
        const leaver = before[0] as string;
        const remaining = before.slice(1);
        const placeLeft = placer(placement, remaining);
        for (const kid of kids) if (placeBefore(kid) !== leaver) expect(placeLeft(kid)).to.equal(placeBefore(kid));
        expect(movedCount(placement, kids, before, after)).to.equal(kids.filter((k) => placeBefore(k) !== placeAfter(k)).length);
      }), { numRuns: 20 });
  });

  it('naive hashing moves most keys on a join (the contrast)', () => {
    const kids = kidsOf(2_000);
    const moved = movedCount({ scheme: 'naive' }, kids, nidsOf(5), [...nidsOf(5), getID('joiner')]);
    expect(moved / kids.length).to.be.above(0.5);
  });

  it('validates placement config with a coded error naming the field', () => {
    expect(parsePlacement({ scheme: 'ring' })).to.have.property('code', 'E_KV_BAD_PLACEMENT');
    expect(parsePlacement({ scheme: 'consistent', vnodes: -1 })).to.have.nested.property('details.field', 'placement.vnodes');
    expect(parsePlacement({ scheme: 'consistent', vnodes: 1000 })).to.deep.equal({ scheme: 'consistent', vnodes: 1000 });
  });
});
