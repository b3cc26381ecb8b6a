/**
 * Real node processes on loopback: `status.spawn` / `stop` with their error cases, and one test per row of
 * COURSE-API's group services table (`distribution[gid].*`, `distribution.all.*`).
 */
import { expect } from 'chai';
import net from 'node:net';
import { call, until, canConnect, closeNode, freePort, requireFacade, startNode, type Distribution } from './helpers.js';

type Node = { ip: string; port: number };


describe('facade: spawn, stop and group services on real processes', function () {
  this.timeout(30_000);
  let d: Distribution;
  const spawned: Node[] = [];
  let n1: Node;
  let n2: Node;
  const sid = (node: Node): string => d.util.id.getSID(node);

  const spawn = async (node: Node & Record<string, unknown>): Promise<[any, any]> => {
    const result = await call(d.local.status, 'spawn', node);
    if (result[0] === null) spawned.push(node);
    return result;
  };

  before(async () => {
    d = await startNode(requireFacade());
    n1 = { ip: '127.0.0.1', port: await freePort() };
    n2 = { ip: '127.0.0.1', port: await freePort() };
  });

  after(async () => {
    for (const node of spawned) await call(d.local.comm, 'send', [], { node, service: 'status', method: 'stop' });
    await closeNode(d);
  });

  describe('status.spawn / stop', () => {
    it('spawn calls back (null, config) only once the node listens, and the node joins all', async () => {
      let started = 0;
      const stub = d.util.wire.createRPC((port: number, cb: (e: unknown, v: unknown) => void) => cb(null, (started = port)));
      // onStart still runs on the child: it calls this node back through the RPC stub.
      const onStart = new Function(`const notify = ${stub.toString()}; notify(globalThis.distribution.node.config.port, () => {});`);
      const [err, config] = await spawn({ ...n1, onStart });
      expect(err).to.equal(null);
      expect(config).to.deep.include(n1);
      expect(await canConnect(n1.port)).to.equal(true);
      expect(await call(d.local.comm, 'send', ['port'], { node: n1, service: 'status', method: 'get' })).to.deep.equal([null, n1.port]);
      expect((await call(d.local.groups, 'get', 'all'))[1]).to.have.property(sid(n1));
      await until(() => started === n1.port);
      expect((await spawn(n2))[0]).to.equal(null);
    });

    it('spawn of a node already running there is an error', async () => {
      const [err] = await call(d.local.status, 'spawn', { ...n1 });
      expect(err).to.be.instanceOf(Error);
    });

    it('spawn on a port in use is an error', async () => {
      const blocker = net.createServer();
      const port = await freePort();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
      try {
        const [err] = await call(d.local.status, 'spawn', { ip: '127.0.0.1', port });
        expect(err).to.be.instanceOf(Error);
        expect(err.code).to.equal('E_ADDR_IN_USE');
      } finally {
        blocker.close();
      }
    });

    it('spawn with port 0 is an error', async () => {
      expect((await call(d.local.status, 'spawn', { ip: '127.0.0.1', port: 0 }))[0]).to.be.instanceOf(Error);
    });

    it('stop replies (null, config) first, then the node closes its server and exits', async () => {
      const n3 = { ip: '127.0.0.1', port: await freePort() };
      expect((await call(d.local.status, 'spawn', n3))[0]).to.equal(null);
      const [err, config] = await call(d.local.comm, 'send', [], { node: n3, service: 'status', method: 'stop' });
      expect(err).to.equal(null);
      expect(config).to.deep.include(n3);
      await until(async () => !(await canConnect(n3.port)));
      const [after] = await call(d.local.comm, 'send', ['sid'], { node: n3, service: 'status', method: 'get' });
      expect(after.constructor).to.equal(Error);
    });
  });

  describe('group services', () => {
    before(async () => {
      const group = { [sid(n1)]: n1, [sid(n2)]: n2 };
      expect((await call(d.local.groups, 'put', 'g', group))[0]).to.equal(null);
      const [errors] = await call((d['g'] as Record<string, unknown>)['groups'], 'put', 'g', group);
      expect(errors).to.deep.equal({});
    });
    const g = (service: string): unknown => (d['g'] as Record<string, unknown>)[service];

    it('comm.send calls every member: (errors, values) keyed by SID, errors {} when nothing failed', async () => {
      const [errors, values] = await call(g('comm'), 'send', ['port'], { service: 'status', method: 'get' });
      expect(errors).to.deep.equal({});
      expect(values).to.deep.equal({ [sid(n1)]: n1.port, [sid(n2)]: n2.port });
    });

    it('comm.send with a gid reaches that group on each member', async () => {
      const [errors, values] = await call(g('comm'), 'send', ['sid'], { service: 'status', method: 'get', gid: 'g' });
      expect(errors).to.deep.equal({});
      expect(Object.keys(values).sort()).to.deep.equal([sid(n1), sid(n2)].sort());
    });

    it('status.get: nid and sid give arrays, heapTotal a sum, other keys {sid: value}, unknown keys errors', async () => {
      const [, nids] = await call(g('status'), 'get', 'nid');
      expect([...(nids as string[])].sort()).to.deep.equal([d.util.id.getNID(n1), d.util.id.getNID(n2)].sort());
      const [, sids] = await call(g('status'), 'get', 'sid');
      expect([...(sids as string[])].sort()).to.deep.equal([sid(n1), sid(n2)].sort());
      const [, heap] = await call(g('status'), 'get', 'heapTotal');
      expect(heap).to.be.a('number').and.greaterThan(0);
      expect(await call(g('status'), 'get', 'port')).to.deep.equal([{}, { [sid(n1)]: n1.port, [sid(n2)]: n2.port }]);
      const [errors, values] = await call(g('status'), 'get', 'nope');
      expect(Object.keys(errors).sort()).to.deep.equal([sid(n1), sid(n2)].sort());
      expect(errors[sid(n1)]).to.be.instanceOf(Error);
      expect(values).to.deep.equal({});
    });

    it('a group whose member is down reports it in errors', async () => {
      const dead = { ip: '127.0.0.1', port: await freePort() };
      await call(d.local.groups, 'put', 'withDead', { [sid(n1)]: n1, [sid(dead)]: dead });
      const [errors, values] = await call((d['withDead'] as Record<string, unknown>)['comm'], 'send', ['port'], { service: 'status', method: 'get' });
      expect(Object.keys(errors)).to.deep.equal([sid(dead)]);
      expect(values).to.deep.equal({ [sid(n1)]: n1.port });
    });

    it('a group with no members gives one Error', async () => {
      await call(d.local.groups, 'put', 'empty', {});
      const [err] = await call((d['empty'] as Record<string, unknown>)['comm'], 'send', [], { service: 'status', method: 'get' });
      expect(err).to.be.instanceOf(Error);
    });

    it('routes.put / rem run on every member', async () => {
      const service = { hello: (cb: (e: unknown, v: unknown) => void) => cb(null, `hello from ${(globalThis as any).distribution.node.config.port}`) };
      expect((await call(g('routes'), 'put', service, 'hello'))[0]).to.deep.equal({});
      const [, values] = await call(g('comm'), 'send', [], { service: 'hello', method: 'hello' });
      expect(values).to.deep.equal({ [sid(n1)]: `hello from ${n1.port}`, [sid(n2)]: `hello from ${n2.port}` });
      expect((await call(g('routes'), 'rem', 'hello'))[0]).to.deep.equal({});
      const [errors] = await call(g('comm'), 'send', [], { service: 'hello', method: 'hello' });
      expect(Object.keys(errors)).to.have.length(2);
    });

    it('groups.put with a config object creates the group remotely; get/add/rem/del run on every member', async () => {
      const config = { gid: 'sub', hash: d.util.id.rendezvousHash };
      expect((await call(g('groups'), 'put', config, { [sid(n1)]: n1 }))[0]).to.deep.equal({});
      const [, got] = await call(g('groups'), 'get', 'sub');
      expect(got).to.deep.equal({ [sid(n1)]: { [sid(n1)]: n1 }, [sid(n2)]: { [sid(n1)]: n1 } });
      expect((await call(g('groups'), 'add', 'sub', n2))[0]).to.deep.equal({});
      const [, remoteSub] = await call(d.local.comm, 'send', ['sub'], { node: n2, service: 'groups', method: 'get' });
      expect(remoteSub).to.have.keys([sid(n1), sid(n2)]);
      expect((await call(g('groups'), 'rem', 'sub', sid(n2)))[0]).to.deep.equal({});
      expect((await call(g('groups'), 'del', 'sub'))[0]).to.deep.equal({});
      const [errors] = await call(g('groups'), 'get', 'sub');
      expect(Object.keys(errors)).to.have.length(2);
    });

    it('gossip.send reaches every member, which runs the call once; at/del run and stop a periodic task', async () => {
      const bumper = {
        bump: (cb: (e: unknown, v: unknown) => void) => {
          const state = (globalThis as any).distribution;
          cb(null, (state.bumps = (state.bumps ?? 0) + 1));
        },
        count: (cb: (e: unknown, v: unknown) => void) => cb(null, (globalThis as any).distribution.bumps ?? 0),
      };
      await call(g('routes'), 'put', bumper, 'bumper');
      await call(d.local.routes, 'put', bumper, 'bumper');
      const [err] = await call(g('gossip'), 'send', [], { service: 'bumper', method: 'bump' });
      expect(err).to.deep.equal({});
      const counts = async (): Promise<unknown> => (await call(g('comm'), 'send', [], { service: 'bumper', method: 'count' }))[1];
      await until(async () => JSON.stringify(await counts()) === JSON.stringify({ [sid(n1)]: 1, [sid(n2)]: 1 }));
      await new Promise((r) => setTimeout(r, 50));
      expect(await counts()).to.deep.equal({ [sid(n1)]: 1, [sid(n2)]: 1 });
      let ticks = 0;
      const [atErr, handle] = await call(g('gossip'), 'at', 20, () => void ticks++);
      expect(atErr).to.equal(null);
      await until(() => ticks >= 2);
      expect((await call(g('gossip'), 'del', handle))[0]).to.equal(null);
      const stopped = ticks;
      await new Promise((r) => setTimeout(r, 80));
      expect(ticks).to.equal(stopped);
    });

    it('status.spawn(node) starts a node and adds it to the group everywhere', async () => {
      const n4 = { ip: '127.0.0.1', port: await freePort() };
      const [err] = await call(g('status'), 'spawn', n4);
      expect(err).to.equal(null);
      spawned.push(n4);
      const [, local] = await call(d.local.groups, 'get', 'g');
      expect(local).to.have.keys([sid(n1), sid(n2), sid(n4)]);
      const [, onN1] = await call(d.local.comm, 'send', ['g'], { node: n1, service: 'groups', method: 'get' });
      expect(onN1).to.have.keys([sid(n1), sid(n2), sid(n4)]);
    });

    it('all.comm.send includes this node and the nodes it spawned', async () => {
      const [errors, values] = await call(d.all['comm'], 'send', ['sid'], { service: 'status', method: 'get' });
      expect(errors).to.deep.equal({});
      expect(values).to.include.keys([sid(d.node.config), sid(n1), sid(n2)]);
    });

    it('status.stop stops every member', async () => {
      const [errors, values] = await call(g('status'), 'stop');
      expect(errors).to.deep.equal({});
      expect(Object.keys(values)).to.have.length(3);
      spawned.length = 0;
      await until(async () => !(await canConnect(n1.port)) && !(await canConnect(n2.port)));
    });
  });
});
