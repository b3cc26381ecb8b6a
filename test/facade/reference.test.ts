/**
 * Interop with the course's reference implementation (npm `@brown-ds/distribution`): one reference node in
 * a child process; ours calls it over PUT, and it calls ours.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { call, closeNode, freePort, referenceEntry, requireFacade, startNode, startProcess, type Distribution, type NodeProcess } from './helpers.js';

describe('facade: interop with the course reference implementation', function () {
  this.timeout(20_000);
  let d: Distribution;
  let reference: NodeProcess | undefined;
  let ref: { ip: string; port: number };

  before(async function () {
    if (!existsSync(referenceEntry)) return this.skip();
    d = await startNode(requireFacade());
    ref = { ip: '127.0.0.1', port: await freePort() };
    // With an onStart the reference does not open a REPL on stdin.
    reference = await startProcess(referenceEntry, ['--config', d.util.serialize({ ...ref, onStart: () => undefined })], ref.port);
  });

  after(async () => {
    await reference?.stop();
    await closeNode(d);
  });

  it('ours -> reference: comm.send answers the reference method', async () => {
    expect(await call(d.local.comm, 'send', ['sid'], { node: ref, service: 'status', method: 'get' })).to.deep.equal([null, d.util.id.getSID(ref)]);
    expect(await call(d.local.comm, 'send', ['port'], { node: ref, service: 'status', method: 'get' })).to.deep.equal([null, ref.port]);
    // The reference does not speak ws: one probe, then PUTs.
    expect(d.node.netStats()).to.deep.include({ probesToPut: 1 });
    expect(d.node.netStats().callsPut).to.be.at.least(1);
  });

  it('ours -> reference: an unknown service or key comes back as an Error', async () => {
    expect((await call(d.local.comm, 'send', ['sid'], { node: ref, service: 'nope', method: 'get' }))[0]).to.be.instanceOf(Error);
    expect((await call(d.local.comm, 'send', ['nope'], { node: ref, service: 'status', method: 'get' }))[0]).to.be.instanceOf(Error);
  });

  it('reference -> ours: the reference comm.send reaches our status, routes and a service with a function', async () => {
    const viaRef = (message: unknown[], remote: Record<string, unknown>): Promise<[any, any]> =>
      call(d.local.comm, 'send', [message, { node: d.node.config, ...remote }], { node: ref, service: 'comm', method: 'send' });
    expect(await viaRef(['sid'], { service: 'status', method: 'get' })).to.deep.equal([null, d.util.id.getSID(d.node.config)]);
    await call(d.local.routes, 'put', { square: (x: number, cb: (e: unknown, v: unknown) => void) => cb(null, x * x) }, 'math');
    expect(await viaRef([7], { service: 'math', method: 'square' })).to.deep.equal([null, 49]);
    const [err] = await viaRef([], { service: 'nope', method: 'get' });
    expect(err).to.be.instanceOf(Error);
  });

  it('reference -> ours with a gid: our group aggregate comes back', async () => {
    const [err, value] = await call(d.local.comm, 'send', [['nid'], { node: d.node.config, service: 'status', method: 'get', gid: 'all' }], {
      node: ref, service: 'comm', method: 'send',
    });
    expect(err).to.deep.equal({});
    expect(value).to.deep.equal([d.util.id.getNID(d.node.config)]);
  });

  it('a group of ours with the reference node in it fans out to it', async () => {
    await call(d.local.groups, 'put', 'mixed', { [d.util.id.getSID(ref)]: ref, [d.util.id.getSID(d.node.config)]: d.node.config });
    const [errors, values] = await call((d['mixed'] as Record<string, unknown>)['comm'], 'send', ['port'], { service: 'status', method: 'get' });
    expect(errors).to.deep.equal({});
    expect(values).to.deep.equal({ [d.util.id.getSID(ref)]: ref.port, [d.util.id.getSID(d.node.config)]: d.node.config.port });
  });

  it('routes.put on the reference of a service shipped by us runs there', async () => {
    const service = { where: (cb: (e: unknown, v: unknown) => void) => cb(null, (globalThis as any).distribution.node.config.port) };
    expect((await call(d.local.comm, 'send', [service, 'where'], { node: ref, service: 'routes', method: 'put' }))[0]).to.equal(null);
    expect(await call(d.local.comm, 'send', [], { node: ref, service: 'where', method: 'where' })).to.deep.equal([null, ref.port]);
  });
});
