/** Hostile and unusual input on the node channel, and the pure call tables. */
import { expect } from 'chai';
import fc from 'fast-check';
import { CallTable, decodeMessage, defineMethod, encodeCall, encodeReply, FifoMap, nodeChannel, RecentCalls } from '../../../src/protocols/node/index.js';
import { decode, encode } from '../../../src/serialize/index.js';
import { codeOf, simCluster } from '../helpers.js';

describe('node wire (simulator)', () => {
  it('garbage never throws: bad envelopes are dropped and counted, bad args get E_NODE_BAD_ARGS', () => {
    const c = simCluster(['n1']);
    const client = c.sim.client('c1');
    const replies: unknown[] = [];
    client.listen(nodeChannel, (_from, bytes) => {
      const m = decodeMessage(bytes);
      if (!(m instanceof Error) && m.type === 'reply') replies.push(decode(m.resultBytes));
    });
    c.sim.at(0, () => {
      client.send('n1', nodeChannel, Uint8Array.of(1, 2, 3, 255)); // shorter than the ids
      client.send('n1', nodeChannel, Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 1)); // unknown tag
      client.send('n1', nodeChannel, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 65)); // name runs past the end
      client.send('n1', nodeChannel, encodeCall(0, 2, 'local', 'status', 'get', Uint8Array.of(9, 9, 9)) as Uint8Array);
      client.send('n1', nodeChannel, encodeCall(0, 3, 'local', 'status', 'get', encode({ key: 'nid' })) as Uint8Array);
    });
    c.sim.runUntil(100);
    expect(c.sim.halt).to.equal(undefined);
    expect(c.node('n1').stats.badMessages).to.equal(3);
    expect(replies.map((r) => codeOf((r as unknown[])[0]))).to.deep.equal(['E_NODE_BAD_ARGS', 'E_NODE_BAD_ARGS']);
  });

  it('a name longer than the envelope allows is refused before sending', () => {
    expect(encodeCall(0, 1, 'local', 'x'.repeat(256), 'get', encode([]))).to.have.property('code', 'E_NODE_BAD_NAME');
  });

  it('arbitrary bytes on the channel never stop a node', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (frames) => {
      const c = simCluster(['n1']);
      const client = c.sim.client('c1');
      c.sim.at(0, () => frames.forEach((f) => client.send('n1', nodeChannel, f)));
      c.sim.runUntil(50);
      expect(c.sim.halt).to.equal(undefined);
    }), { numRuns: 50 });
  });

  /** Sends the same `count.up` call twice to a node whose counter is `up`; what each copy got back. */
  function sendTwice(up: Function): { runs: () => number; replies: unknown[]; c: ReturnType<typeof simCluster> } {
    const c = simCluster(['n1']);
    let runs = 0;
    c.node('n1').services.set('count', { up: up(() => ++runs) });
    const client = c.sim.client('c1');
    const replies: unknown[] = [];
    client.listen(nodeChannel, (_from, bytes) => {
      const m = decodeMessage(bytes);
      if (!(m instanceof Error) && m.type === 'reply') replies.push(decode(m.resultBytes));
    });
    const call = encodeCall(7, 1, 'local', 'count', 'up', encode([])) as Uint8Array;
    c.sim.at(0, () => client.send('n1', nodeChannel, call));
    c.sim.at(10, () => client.send('n1', nodeChannel, call));
    c.sim.at(20, () => client.send('n1', nodeChannel, encodeReply(123, 456, encode([null, 1]))));
    c.sim.runUntil(100);
    return { runs: () => runs, replies, c };
  }

  it('a duplicated call runs once and both copies get the reply; an unknown reply is dropped and counted', () => {
    const { runs, replies, c } = sendTwice((next: () => number) => (cb: Function) => cb(null, next()));
    expect(runs()).to.equal(1);
    expect(replies).to.deep.equal([[null, 1], [null, 1]]);
    expect(c.node('n1').stats.callsDuplicate).to.equal(1);
    expect(c.node('n1').stats.repliesUnknown).to.equal(1);
  });

  it('a duplicated call to a method declared idempotent is not remembered: it runs again', () => {
    const { runs, replies, c } = sendTwice((next: () => number) => defineMethod(0, (_args, reply) => reply(null, next()), { idempotent: true }));
    expect(runs()).to.equal(2);
    expect(replies).to.deep.equal([[null, 1], [null, 2]]);
    expect(c.node('n1').stats.callsDuplicate).to.equal(0);
  });
});

describe('call tables (pure core)', () => {
  it('a call settles at most once, and only in its epoch', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(20)), { maxLength: 100 }), (ops) => {
      const table = new CallTable<number>(5, 8);
      const settled = new Set<number>();
      for (const [open, pick] of ops) {
        if (open && !table.full) {
          const seq = table.reserve();
          table.open({ seq, to: 'n', payload: new Uint8Array(), idempotent: false, timeoutMs: 1, attempts: 1, deadlineMs: 0, callback: seq });
        } else {
          expect(table.settle(6, pick)).to.equal(undefined);
          const call = table.settle(5, pick);
          if (call !== undefined) {
            expect(settled.has(call.seq)).to.equal(false);
            settled.add(call.seq);
          }
        }
        expect(table.size).to.be.at.most(8);
      }
    }));
  });

  it('recent calls: new, then running, then the reply; bounded, oldest forgotten', () => {
    const recent = new RecentCalls(2);
    expect(recent.begin('a', 1, 1).kind).to.equal('new');
    expect(recent.begin('a', 1, 1).kind).to.equal('running');
    expect(recent.begin('a', 2, 1).kind).to.equal('new'); // another incarnation of a
    recent.finish('a', 1, 1, Uint8Array.of(1));
    expect(recent.begin('a', 1, 1)).to.deep.equal({ kind: 'done', reply: Uint8Array.of(1) });
    recent.begin('b', 1, 1);
    expect(recent.size).to.equal(2);
    recent.finish('a', 1, 1, Uint8Array.of(2)); // forgotten: not brought back
    expect(recent.begin('a', 2, 1).kind).to.equal('running');
    recent.begin('c', 1, 7);
    expect(recent.size).to.equal(2);
    expect(recent.begin('a', 1, 1).kind).to.equal('new');
    expect(recent.size).to.equal(2);
  });

  it('recent calls behave like one FIFO map keyed by (caller, epoch, seq)', () => {
    const op = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 5 }), fc.boolean());
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
      const recent = new RecentCalls(capacity);
      const model = new FifoMap<string, Uint8Array | null>(capacity);
      ops.forEach(([from, epoch, seq, finish], i) => {
        const key = `${from}|${epoch}|${seq}`;
        if (finish) {
          recent.finish(from, epoch, seq, Uint8Array.of(i));
          if (model.get(key) === null) model.set(key, Uint8Array.of(i));
          return;
        }
        const entry = model.get(key);
        const expected = entry === null ? { kind: 'running' } : entry !== undefined ? { kind: 'done', reply: entry } : { kind: 'new' };
        if (entry === undefined) model.set(key, null);
        expect(recent.begin(from, epoch, seq)).to.deep.equal(expected);
        expect(recent.size).to.equal(model.size);
      });
    }), { numRuns: 300 });
  });
});
