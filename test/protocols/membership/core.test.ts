import { expect } from 'chai';
import fc from 'fast-check';
import {
  decodeMessage, encodeMessage, LocalHealth, mergeTables, MembershipCore, ProbeSchedule, parseMembershipArgs, retransmitLimit, supersedes, suspicionTimeoutMs, UpdateQueue,
  type MemberRecord, type MemberState, type MembershipMessage,
} from '../../../src/protocols/membership/index.js';
import { hasCode } from '../../../src/lib/errors.js';
import { encode } from '../../../src/serialize/index.js';

const coreConfig = { retransmitMult: 4, suspicionTimeoutMs: 1000, suspicionTimeoutMaxMult: 6, suspicionConfirmations: 2, piggybackUpdatesMax: 8 };
const rec = (id: string, state: MemberState, incarnation: number): MemberRecord => ({ id, state, incarnation });
/** A deterministic stand-in for env.random in pure-core tests. */
const counter = (): ((max: number) => number) => {
  let i = 0;
  return (max) => i++ % max;
};

function startedCore(self = 'a'): MembershipCore {
  const core = new MembershipCore(self, coreConfig, counter());
  core.becomeAlive(1);
  return core;
}

describe('membership core', () => {
  it('orders records by incarnation, then alive < suspect < dead < left', () => {
    expect(supersedes(rec('x', 'alive', 2), rec('x', 'dead', 1))).to.equal(true);
    expect(supersedes(rec('x', 'suspect', 1), rec('x', 'alive', 1))).to.equal(true);
    expect(supersedes(rec('x', 'dead', 1), rec('x', 'suspect', 1))).to.equal(true);
    expect(supersedes(rec('x', 'left', 1), rec('x', 'dead', 1))).to.equal(true);
    expect(supersedes(rec('x', 'dead', 1), rec('x', 'alive', 2))).to.equal(false);
    expect(supersedes(rec('x', 'alive', 1), rec('x', 'alive', 1))).to.equal(false);
  });

  it('applies newer records, ignores stale ones, and reports changes', () => {
    const core = startedCore();
    expect(core.apply(rec('b', 'alive', 1), 0)).to.deep.equal([{ id: 'b', state: 'alive', incarnation: 1, previous: undefined }]);
    expect(core.apply(rec('b', 'alive', 1), 0)).to.deep.equal([]);
    expect(core.apply(rec('b', 'suspect', 1), 0)[0]).to.include({ state: 'suspect', previous: 'alive' });
    expect(core.apply(rec('b', 'alive', 1), 0)).to.deep.equal([]); // same incarnation: suspicion stands
    expect(core.apply(rec('b', 'alive', 2), 0)[0]).to.include({ state: 'alive', incarnation: 2 });
    expect(core.liveMembers()).to.deep.equal(['b']);
  });

  it('a suspicion not refuted within suspicionTimeoutMs becomes dead at the same incarnation', () => {
    const core = startedCore();
    core.apply(rec('b', 'alive', 3), 0);
    expect(core.suspect('b', 100)).to.have.length(1);
    expect(core.expireSuspicions(1099)).to.deep.equal([]);
    expect(core.expireSuspicions(1100)).to.deep.equal([{ id: 'b', state: 'dead', incarnation: 3, previous: 'suspect' }]);
    expect(core.liveMembers()).to.deep.equal([]);
    expect(core.others()).to.deep.equal(['b']);
  });

  it('dynamic suspicion timeout: max unconfirmed, shrinking with each confirmation, min from k on', () => {
    expect(suspicionTimeoutMs(1000, 6000, 2, 0)).to.equal(6000);
    expect(suspicionTimeoutMs(1000, 6000, 2, 2)).to.equal(1000);
    expect(suspicionTimeoutMs(1000, 6000, 2, 5)).to.equal(1000);
    expect(suspicionTimeoutMs(1000, 6000, 0, 0)).to.equal(1000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), (minMs, mult, k, c) => {
      const t = suspicionTimeoutMs(minMs, minMs * mult, k, c);
      expect(t).to.be.within(minMs, minMs * mult);
      expect(suspicionTimeoutMs(minMs, minMs * mult, k, c + 1)).to.be.at.most(t);
    }));
  });

  it('an unconfirmed suspicion lasts the maximum; independent accusers bring it down to the minimum', () => {
    const core = startedCore();
    for (const id of ['b', 'c', 'd', 'e']) core.apply(rec(id, 'alive', 1), 0);
    core.apply({ ...rec('b', 'suspect', 1), accuser: 'c' }, 0); // heard: c suspects b
    expect(core.suspicionTimeoutOf('b')).to.equal(6000);
    expect(core.expireSuspicions(5999)).to.deep.equal([]);
    core.apply({ ...rec('b', 'suspect', 1), accuser: 'c' }, 10); // the same accuser again does not count
    expect(core.suspicionTimeoutOf('b')).to.equal(6000);
    core.suspect('b', 20); // our own failed probe is an independent confirmation
    const once = core.suspicionTimeoutOf('b') as number;
    expect(once).to.be.below(6000).and.above(1000);
    // The confirmation is passed on, so the other holders count it too.
    expect(core.piggyback(undefined)).to.deep.include({ ...rec('b', 'suspect', 1), accuser: 'a' });
    core.apply({ ...rec('b', 'suspect', 1), accuser: 'd' }, 30);
    expect(core.suspicionTimeoutOf('b')).to.equal(1000);
    expect(core.expireSuspicions(1000)).to.deep.equal([{ id: 'b', state: 'dead', incarnation: 1, previous: 'suspect' }]);
  });

  it('a suspicion this node starts names it as the accuser, and travels with it', () => {
    const core = startedCore();
    core.apply(rec('b', 'alive', 1), 0);
    core.suspect('b', 0);
    const record = core.get('b') as MemberRecord;
    expect(record).to.deep.equal({ ...rec('b', 'suspect', 1), accuser: 'a' });
    const message: MembershipMessage = { type: 'gossip', updates: [record, rec('c', 'alive', 2)] };
    expect(decodeMessage(encodeMessage(message))).to.deep.equal(message);
    // An accuser on anything but a suspect record is a bad shape.
    expect(decodeMessage(encode({ type: 'gossip', updates: [['b', 0, 1, 'a']] }))).to.have.property('code', 'E_MEMBERSHIP_BAD_MESSAGE');
  });

  it('never holds itself suspect or dead: a claim against self asks for a refutation above it', () => {
    const core = startedCore();
    expect(core.pendingRefutation()).to.equal(undefined);
    core.apply(rec('a', 'suspect', 1), 0);
    core.apply(rec('a', 'dead', 0), 0); // stale claim: no higher refutation needed
    expect(core.get('a')).to.deep.equal(rec('a', 'alive', 1));
    expect(core.pendingRefutation()).to.equal(2);
    core.becomeAlive(2);
    expect(core.pendingRefutation()).to.equal(undefined);
    expect(core.get('a')).to.deep.equal(rec('a', 'alive', 2));
  });

  it('buddy system: a message to a suspected member carries its suspicion first', () => {
    const core = startedCore();
    core.apply(rec('b', 'alive', 1), 0);
    core.apply(rec('c', 'alive', 1), 0);
    core.suspect('b', 0);
    expect(core.piggyback('b')[0]).to.deep.equal({ ...rec('b', 'suspect', 1), accuser: 'a' });
  });

  it('the retransmit queue sends each update lambda*log(n) times, least sent first', () => {
    expect([retransmitLimit(4, 1), retransmitLimit(4, 30), retransmitLimit(4, 100), retransmitLimit(4, 1000)]).to.deep.equal([4, 8, 12, 16]);
    const queue = new UpdateQueue();
    queue.enqueue(rec('x', 'alive', 1));
    queue.enqueue(rec('y', 'alive', 1));
    expect(queue.take(1, 2).map((r) => r.id)).to.deep.equal(['y']); // newest first on ties
    expect(queue.take(1, 2).map((r) => r.id)).to.deep.equal(['x']);
    expect(queue.take(5, 2).map((r) => r.id)).to.deep.equal(['y', 'x']);
    expect(queue.size).to.equal(0);
    queue.enqueue(rec('x', 'alive', 1));
    queue.enqueue(rec('x', 'dead', 1)); // replaces, one entry per member
    expect(queue.take(5, 1)).to.deep.equal([rec('x', 'dead', 1)]);
  });

  it('the probe schedule visits every member once per pass and skips those that left the group', () => {
    const schedule = new ProbeSchedule(counter());
    for (const id of ['b', 'c', 'd', 'e']) schedule.add(id);
    const pass = [1, 2, 3, 4].map(() => schedule.pick(() => true));
    expect([...pass].sort()).to.deep.equal(['b', 'c', 'd', 'e']);
    const next = [1, 2, 3].map(() => schedule.pick((id) => id !== 'c'));
    expect([...next].sort()).to.deep.equal(['b', 'd', 'e']);
    expect(schedule.pick(() => false)).to.equal(undefined);
  });

  it('local health stays in [0, max], scales durations by score + 1, and is off at max 0 (property)', () => {
    fc.assert(fc.property(fc.nat(16), fc.array(fc.constantFrom(1 as const, -1 as const), { maxLength: 60 }), (max, deltas) => {
      const health = new LocalHealth(max);
      let model = 0;
      for (const delta of deltas) {
        const next = Math.min(max, Math.max(0, model + delta));
        expect(health.record(delta)).to.equal(next !== model);
        model = next;
        expect(health.score).to.equal(model);
        expect(health.scale(500)).to.equal(500 * (model + 1));
      }
    }));
    expect(() => new LocalHealth(-1)).to.throw();
  });

  describe('merge properties', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const record = fc.record({
      id: fc.constantFrom(...ids),
      state: fc.constantFrom<MemberState>('alive', 'suspect', 'dead', 'left'),
      incarnation: fc.integer({ min: 0, max: 5 }),
    });
    const table = fc.array(record, { maxLength: 12 }).map((rs) => mergeTables(new Map(), new Map(rs.map((r) => [r.id, r]))));
    const same = (x: Map<string, MemberRecord>, y: Map<string, MemberRecord>): void => {
      const sorted = (m: Map<string, MemberRecord>) => [...m.entries()].sort(([p], [q]) => (p < q ? -1 : 1));
      expect(sorted(x)).to.deep.equal(sorted(y));
    };

    it('table merge is commutative, associative and idempotent', () => {
      fc.assert(
        fc.property(table, table, table, (x, y, z) => {
          same(mergeTables(x, y), mergeTables(y, x));
          same(mergeTables(mergeTables(x, y), z), mergeTables(x, mergeTables(y, z)));
          same(mergeTables(x, x), x);
        }),
        { numRuns: 300 },
      );
    });

    it('cores fed the same records in any order, with duplicates, hold the same table', () => {
      fc.assert(
        fc.property(fc.array(record, { maxLength: 30 }), fc.integer({ min: 0, max: 1e9 }), (records, seed) => {
          const shuffled = [...records, ...records.slice(0, seed % (records.length + 1))];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (seed * (i + 7)) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as MemberRecord, shuffled[i] as MemberRecord];
          }
          // The observer is 'z', outside the ids, so no record is about self.
          const one = new MembershipCore('z', coreConfig, counter());
          const two = new MembershipCore('z', coreConfig, counter());
          for (const r of records) one.apply(r, 0);
          for (const r of shuffled) two.apply(r, 0);
          const expected = records.reduce((m, r) => mergeTables(m, new Map([[r.id, r]])), new Map<string, MemberRecord>());
          const asMap = (c: MembershipCore) => new Map(c.records().map((r) => [r.id, r] as const));
          same(asMap(one), expected);
          same(asMap(two), expected);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('membership config and messages', () => {
  it('validates every field up front, naming it', () => {
    expect(parseMembershipArgs({ seeds: ['n1'] })).to.include({ probeIntervalMs: 1000, ackTimeoutMs: 500, indirectProbes: 3, localHealthMax: 8 });
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ seeds: 'n1' }, 'seeds'],
      [{ probeIntervalMs: 5 }, 'probeIntervalMs'],
      [{ probeIntervalMs: 100, ackTimeoutMs: 100 }, 'ackTimeoutMs'],
      [{ probeIntervalMs: 1000, suspicionTimeoutMs: 999 }, 'suspicionTimeoutMs'],
      [{ indirectProbes: -1 }, 'indirectProbes'],
      [{ gossipFanout: 1.5 }, 'gossipFanout'],
      [{ syncIntervalMs: 10 }, 'syncIntervalMs'],
      [{ retransmitMult: 0 }, 'retransmitMult'],
      [{ localHealthMax: -1 }, 'localHealthMax'],
      [{ localHealthMax: 17 }, 'localHealthMax'],
    ];
    for (const [args, field] of bad) {
      let thrown: unknown;
      try {
        parseMembershipArgs(args);
      } catch (err) {
        thrown = err;
      }
      expect(hasCode(thrown, 'E_MEMBERSHIP_CONFIG'), field).to.equal(true);
      expect((thrown as { details: { field: string } }).details.field).to.equal(field);
    }
    expect(parseMembershipArgs({ syncIntervalMs: 0 }).syncIntervalMs).to.equal(0);
  });

  it('round-trips every message and returns coded errors for bad bytes and shapes', () => {
    const updates = [rec('n1', 'alive', 1), rec('n2', 'left', 7)];
    const messages: MembershipMessage[] = [
      { type: 'ping', seq: 1, target: 'n2', updates },
      { type: 'ack', seq: 1, target: 'n2', updates: [] },
      { type: 'ping-req', seq: 9, target: 'n3', updates },
      { type: 'gossip', updates },
      { type: 'sync', reply: true, updates },
    ];
    for (const m of messages) expect(decodeMessage(encodeMessage(m))).to.deep.equal(m);
    expect(decodeMessage(Uint8Array.of(0xff, 0x00, 0x13))).to.have.property('code', 'E_MEMBERSHIP_BAD_BYTES');
    const badShapes = [{ type: 'ping', seq: -1, target: 'n', updates: [] }, { type: 'gossip', updates: [['n1', 9, 1]] }, { type: 'nope', updates: [] }, 42];
    for (const v of badShapes) expect(decodeMessage(encode(v))).to.have.property('code', 'E_MEMBERSHIP_BAD_MESSAGE');
  });
});
