import { expect } from 'chai';
import fc from 'fast-check';
import { BroadcastCore, decodeMessage, encodeMessage } from '../../src/protocols/broadcast/index.js';
import { resolveConfig, runScenario } from '../../src/sim/index.js';

const run = (seed: number, workload = 'broadcast', faults: 'none' | 'light' | 'heavy' = 'heavy') =>
  runScenario(resolveConfig({ seed, workload, faults }));

describe('broadcast', () => {
  describe('core', () => {
    it('owes a value to every peer until each acknowledges it', () => {
      const core = new BroadcastCore(['a', 'b']);
      expect(core.learn(5)).to.equal(true);
      expect(core.learn(5)).to.equal(false);
      expect(core.owed('a', 10)).to.deep.equal([5]);
      core.acknowledged('a', [5]);
      expect(core.owed('a', 10)).to.deep.equal([]);
      expect(core.owed('b', 10)).to.deep.equal([5]);
    });

    it('tracks writes: taken values are durable after success and retried after failure', () => {
      const core = new BroadcastCore([]);
      core.learn(1);
      core.learn(2);
      expect(core.takeUnwritten(10)).to.deep.equal([1, 2]);
      core.written([1, 2], false);
      expect(core.unwrittenCount).to.equal(2);
      core.written(core.takeUnwritten(1), true);
      expect([core.isDurable(1), core.isDurable(2)]).to.deep.equal([true, false]);
    });
  });

  describe('messages', () => {
    it('round-trips every message type and returns coded errors for bad bytes and shapes', () => {
      const messages = [
        { type: 'broadcast', id: 1, value: 2 },
        { type: 'broadcast_ok', id: 1, value: 2 },
        { type: 'read', id: 3 },
        { type: 'read_ok', id: 3, values: [1, 2] },
        { type: 'gossip', values: [4] },
        { type: 'gossip_ok', values: [] },
      ] as const;
      for (const m of messages) expect(decodeMessage(encodeMessage(m))).to.deep.equal(m);
      expect(decodeMessage(Uint8Array.of(0xff, 0x00, 0x13))).to.have.property('code', 'E_BROADCAST_BAD_BYTES');
      expect(decodeMessage(encodeMessage({ type: 'gossip', values: ['x'] } as never))).to.have.property('code', 'E_BROADCAST_BAD_MESSAGE');
    });
  });

  describe('in the simulator', () => {
    it('gives the same trace hash for the same seed', () => {
      const a = run(11);
      const b = run(11);
      expect(a.traceHash).to.equal(b.traceHash);
      expect(a.events).to.equal(b.events);
      expect(run(12).traceHash).to.not.equal(a.traceHash);
    });

    it('same seed, same hash, for any seed (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
          expect(run(seed, 'broadcast', 'light').traceHash).to.equal(run(seed, 'broadcast', 'light').traceHash);
        }),
        { numRuns: 10 },
      );
    });

    it('converges after healing under heavy faults, seeds 1-40', () => {
      const failures: string[] = [];
      let faults = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const r = run(seed);
        faults += r.faultsInjected.loss + r.faultsInjected.partitionDrop + r.faultsInjected.crash;
        if (r.result !== 'ok') failures.push(`seed ${seed}: ${r.result} ${r.reason}`);
      }
      expect(failures).to.deep.equal([]);
      expect(faults).to.be.greaterThan(0);
    });

    it('the checker fails a broadcast without retransmission (liveness)', () => {
      const results = [1, 2, 3].map((seed) => run(seed, 'broadcast-no-retry'));
      expect(results.map((r) => r.result)).to.deep.equal(['liveness', 'liveness', 'liveness']);
    });

    it('the checker fails a broadcast that acknowledges before durability (safety, acked-durable, needs a crash)', () => {
      const r = run(1, 'broadcast-ack-early');
      expect(r.result).to.equal('safety');
      expect(r.invariant).to.equal('broadcast.acked-durable');
      expect(r.faultsInjected.crash).to.be.greaterThan(0); // the lost value was unsynced or its write failed
      expect(run(1, 'broadcast-ack-early', 'none').result).to.equal('ok'); // without crashes the lie is invisible
    });

    it('the checker fails a broadcast that invents values (safety, integrity)', () => {
      const r = run(1, 'broadcast-invent', 'none');
      expect(r.result).to.equal('safety');
      expect(r.invariant).to.equal('broadcast.integrity');
    });
  });
});
