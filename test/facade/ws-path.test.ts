/**
 * Calls between the project's own facade nodes travel over the ws transport on the course port, after
 * one probe; everything the course surface promises over PUT still holds: a peer that dies mid-call
 * fails the call at once, `server.close(cb)` calls back although ws connections were open, a restarted
 * peer is reached again. (Calls to course nodes fall back to PUT: reference.test.ts.)
 */
import { expect } from 'chai';
import { call, until, closeNode, freePort, requireFacade, startNode, waitMsMax, type Distribution } from './helpers.js';

type Node = { ip: string; port: number };


describe('facade: the ws path between our own nodes', function () {
  this.timeout(30_000);
  let d: Distribution;
  let child: Node;
  const status = (key: string): Promise<[any, any]> => call(d.local.comm, 'send', [key], { node: child, service: 'status', method: 'get' });

  before(async () => {
    d = await startNode(requireFacade());
    child = { ip: '127.0.0.1', port: await freePort() };
    expect((await call(d.local.status, 'spawn', child))[0]).to.equal(null);
  });

  after(async () => {
    await call(d.local.comm, 'send', [], { node: child, service: 'status', method: 'stop' });
    await closeNode(d);
  });

  it('after one probe, calls to a node of ours go over ws, none as PUTs', async () => {
    const before = d.node.netStats();
    const callsCount = 50;
    for (let i = 0; i < callsCount; i++) expect(await status('port')).to.deep.equal([null, child.port]);
    const after = d.node.netStats();
    expect(after.callsWs - before.callsWs).to.be.at.least(callsCount - 1);
    expect(after.callsPut - before.callsPut).to.equal(0);
    expect(after.probesToPut).to.equal(0);
  });

  it('a node of ours calling back (createRPC) reaches us over ws too', async () => {
    let calledBack = 0;
    const stub = d.util.wire.createRPC((n: number, cb: (e: unknown, v: unknown) => void) => cb(null, (calledBack += n)));
    const service = { ping: new Function('cb', `const notify = ${stub.toString()}; notify(2, (e, v) => cb(e, v));`) };
    expect((await call(d.local.comm, 'send', [service, 'back'], { node: child, service: 'routes', method: 'put' }))[0]).to.equal(null);
    expect(await call(d.local.comm, 'send', [], { node: child, service: 'back', method: 'ping' })).to.deep.equal([null, 2]);
    expect(calledBack).to.equal(2);
  });

  it('a peer that dies mid-call fails the call at once with a plain Error', async () => {
    const hang = { never: (_cb: unknown) => undefined };
    expect((await call(d.local.comm, 'send', [hang, 'hang'], { node: child, service: 'routes', method: 'put' }))[0]).to.equal(null);
    const startMs = performance.now();
    const pending = call(d.local.comm, 'send', [], { node: child, service: 'hang', method: 'never' });
    expect((await call(d.local.comm, 'send', [], { node: child, service: 'status', method: 'stop' }))[0]).to.equal(null);
    const [err] = await pending;
    expect(err).to.be.instanceOf(Error);
    expect(err.constructor).to.equal(Error);
    // Bounded well below the 60 s call timeout: the lost connection failed it, not the timer.
    expect(performance.now() - startMs).to.be.below(waitMsMax);
  });

  it('a node restarted on the same port is reached again', async () => {
    const [err] = await status('port');
    expect(err).to.be.instanceOf(Error); // nobody listens there now
    // The old process is gone from `all` once its parent saw it exit; then its port can be reused.
    const sid = d.util.id.getSID(child);
    await until(async () => !Object.hasOwn((await call(d.local.groups, 'get', 'all'))[1], sid));
    expect((await call(d.local.status, 'spawn', child))[0]).to.equal(null);
    expect(await status('port')).to.deep.equal([null, child.port]);
  });

  it('server.close(cb) calls back with ws connections open; later calls go as PUTs', async () => {
    const other = await startNode(requireFacade());
    // The child dials `other` back, so `other` holds an inbound ws connection too.
    const stub = other.util.wire.createRPC((cb: (e: unknown, v: unknown) => void) => cb(null, 'back'));
    const service = { ping: new Function('cb', `const notify = ${stub.toString()}; notify((e, v) => cb(e, v));`) };
    expect((await call(other.local.comm, 'send', [service, 'back2'], { node: child, service: 'routes', method: 'put' }))[0]).to.equal(null);
    expect(await call(other.local.comm, 'send', [], { node: child, service: 'back2', method: 'ping' })).to.deep.equal([null, 'back']);
    expect(other.node.netStats().callsWs).to.be.at.least(2);
    const server = other.node.server!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server.close did not call back')), waitMsMax);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const putsBefore = other.node.netStats().callsPut;
    expect(await call(other.local.comm, 'send', ['port'], { node: child, service: 'status', method: 'get' })).to.deep.equal([null, child.port]);
    expect(other.node.netStats().callsPut).to.equal(putsBefore + 1);
    // Bootstrap made `other` the process's node; give the global back to `d`.
    (globalThis as { distribution?: unknown }).distribution = d;
  });
});
