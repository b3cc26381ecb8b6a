/** One test per row of COURSE-API's local services table, error cases included, through the facade. */
import { expect } from 'chai';
import { call, closeNode, freePort, requireFacade, startNode, type Distribution } from './helpers.js';

describe('facade: local services', function () {
  this.timeout(20_000);
  let d: Distribution;

  before(async () => {
    d = await startNode(requireFacade());
  });
  after(() => closeNode(d));

  describe('status.get', () => {
    it('answers nid, sid, ip, port, counts, heapTotal, heapUsed', async () => {
      const expected: Record<string, unknown> = {
        nid: d.util.id.getNID(d.node.config), sid: d.util.id.getSID(d.node.config), ip: '127.0.0.1', port: d.node.config.port,
      };
      for (const [key, value] of Object.entries(expected)) expect(await call(d.local.status, 'get', key)).to.deep.equal([null, value]);
      for (const key of ['counts', 'heapTotal', 'heapUsed']) {
        const [err, value] = await call(d.local.status, 'get', key);
        expect(err).to.equal(null);
        expect(value).to.be.a('number');
      }
    });

    it('counts grows with messages handled', async () => {
      const [, before] = await call(d.local.status, 'get', 'counts');
      await call(d.local.comm, 'send', ['sid'], { node: d.node.config, service: 'status', method: 'get' });
      const [, after] = await call(d.local.status, 'get', 'counts');
      expect(after).to.be.greaterThan(before as number);
    });

    it('any other key is an error', async () => {
      const [err, value] = await call(d.local.status, 'get', 'nope');
      expect(err).to.be.instanceOf(Error);
      expect(value).to.equal(undefined);
    });
  });

  describe('status.spawn / stop (argument errors; real processes in spawn.test)', () => {
    it('spawn with port 0 or without ip is an error', async () => {
      expect((await call(d.local.status, 'spawn', { ip: '127.0.0.1', port: 0 }))[0]).to.be.instanceOf(Error);
      expect((await call(d.local.status, 'spawn', { port: 1234 }))[0]).to.be.instanceOf(Error);
    });

    it('spawn of this very node is an error (already running)', async () => {
      const [err] = await call(d.local.status, 'spawn', { ...d.node.config });
      expect(err.code).to.equal('E_NODE_EXISTS');
    });
  });

  describe('routes', () => {
    it('get(name) and get({service, gid: "local"}) give the service object', async () => {
      expect(await call(d.local.routes, 'get', 'comm')).to.deep.equal([null, d.local.comm]);
      const [err, status] = await call(d.local.routes, 'get', { service: 'status', gid: 'local' });
      expect(err).to.equal(null);
      expect(status).to.equal(d.local.status);
    });

    it('get({service, gid}) of another gid gives distribution[gid][service]', async () => {
      const [err, comm] = await call(d.local.routes, 'get', { service: 'comm', gid: 'all' });
      expect(err).to.equal(null);
      expect(comm).to.equal(d.all['comm']);
    });

    it('get resolves a createRPC id to an object with a call method', async () => {
      const stub = d.util.wire.createRPC((cb: (e: unknown, v: unknown) => void) => cb(null, 'called'));
      const rpcId = /"(rpc-[^"]+)"/.exec(stub.toString())?.[1];
      const [err, service] = await call(d.local.routes, 'get', rpcId);
      expect(err).to.equal(null);
      expect(await call(service, 'call')).to.deep.equal([null, 'called']);
    });

    it('get of an unknown name, or null, is an error', async () => {
      expect((await call(d.local.routes, 'get', 'nope'))[0]).to.be.instanceOf(Error);
      expect((await call(d.local.routes, 'get', null))[0]).to.be.instanceOf(Error);
    });

    it('put registers a service; rem removes it and returns the removed object', async () => {
      const echo = { echo: (x: unknown, cb: (e: unknown, v: unknown) => void) => cb(null, x) };
      expect((await call(d.local.routes, 'put', echo, 'echo'))[0]).to.equal(null);
      const [, got] = await call(d.local.routes, 'get', 'echo');
      expect(got).to.equal(echo);
      const [, remote] = await call(d.local.comm, 'send', ['hi'], { node: d.node.config, service: 'echo', method: 'echo' });
      expect(remote).to.equal('hi');
      const [err, removed] = await call(d.local.routes, 'rem', 'echo');
      expect(err).to.equal(null);
      expect(removed).to.equal(echo);
      expect((await call(d.local.routes, 'get', 'echo'))[0]).to.be.instanceOf(Error);
    });
  });

  describe('comm.send', () => {
    const remote = (): Record<string, unknown> => ({ node: d.node.config, service: 'status', method: 'get' });

    it("answers the remote method's (err, value)", async () => {
      expect(await call(d.local.comm, 'send', ['port'], remote())).to.deep.equal([null, d.node.config.port]);
      const [err] = await call(d.local.comm, 'send', ['nope'], remote());
      expect(err).to.be.instanceOf(Error);
    });

    it('validation errors come back without sending: missing node, ip, port, service, method; non-array message', async () => {
      const [, countsBefore] = await call(d.local.status, 'get', 'counts');
      const cases: unknown[][] = [
        [['sid'], { service: 'status', method: 'get' }],
        [['sid'], { node: { port: d.node.config.port }, service: 'status', method: 'get' }],
        [['sid'], { node: { ip: '127.0.0.1' }, service: 'status', method: 'get' }],
        [['sid'], { node: d.node.config, method: 'get' }],
        [['sid'], { node: d.node.config, service: 'status' }],
        ['sid', remote()],
        [['sid'], undefined],
      ];
      for (const args of cases) {
        const [err] = await call(d.local.comm, 'send', ...args);
        expect(err, JSON.stringify(args)).to.be.instanceOf(Error);
      }
      const [, countsAfter] = await call(d.local.status, 'get', 'counts');
      expect(countsAfter).to.equal(countsBefore);
    });

    it('a connection failure comes back as a plain Error (constructor exactly Error)', async () => {
      const port = await freePort();
      const [err, value] = await call(d.local.comm, 'send', ['sid'], { node: { ip: '127.0.0.1', port }, service: 'status', method: 'get' });
      expect(err).to.be.instanceOf(Error);
      expect(err.constructor).to.equal(Error);
      expect(value).to.equal(undefined);
    });

    it('an unknown service or method on the remote is an error', async () => {
      expect((await call(d.local.comm, 'send', [], { node: d.node.config, service: 'nope', method: 'get' }))[0]).to.be.instanceOf(Error);
      expect((await call(d.local.comm, 'send', [], { node: d.node.config, service: 'status', method: 'nope' }))[0]).to.be.instanceOf(Error);
    });

    it('gid selects distribution[gid] on the remote', async () => {
      const [err, value] = await call(d.local.comm, 'send', ['sid'], { node: d.node.config, service: 'status', method: 'get', gid: 'all' });
      expect(err).to.deep.equal({});
      expect(value).to.deep.equal([d.util.id.getSID(d.node.config)]);
    });
  });

  describe('groups', () => {
    const other = { ip: '127.0.0.1', port: 1 };

    it("get('all') includes this node", async () => {
      const [err, all] = await call(d.local.groups, 'get', 'all');
      expect(err).to.equal(null);
      expect(all).to.have.property(d.util.id.getSID(d.node.config));
    });

    it('put(gid string, group) stores the group, returns it, and creates distribution[gid] with all group services', async () => {
      const group = { [d.util.id.getSID(d.node.config)]: d.node.config };
      const [err, value] = await call(d.local.groups, 'put', 'g1', group);
      expect(err).to.equal(null);
      expect(value).to.deep.equal(group);
      expect(d['g1']).to.include.keys(['comm', 'status', 'routes', 'groups', 'gossip', 'mem', 'store']);
      expect(await call(d.local.groups, 'get', 'g1')).to.deep.equal([null, group]);
    });

    it('put({gid, hash, subset}, group) accepts a config object', async () => {
      const config = { gid: 'g2', hash: d.util.id.consistentHash, subset: (lst: unknown[]) => lst.slice(0, 1) };
      const [err] = await call(d.local.groups, 'put', config, {});
      expect(err).to.equal(null);
      expect(d['g2']).to.be.an('object');
    });

    it('add(name, node) and rem(name, sid); rem of an unknown sid is a no-op', async () => {
      const sid = d.util.id.getSID(other);
      expect((await call(d.local.groups, 'add', 'g1', other))[0]).to.equal(null);
      expect((await call(d.local.groups, 'get', 'g1'))[1]).to.have.property(sid);
      expect((await call(d.local.groups, 'rem', 'g1', sid))[0]).to.equal(null);
      expect((await call(d.local.groups, 'get', 'g1'))[1]).not.to.have.property(sid);
      expect((await call(d.local.groups, 'rem', 'g1', 'zzzzz'))[0]).to.equal(null);
    });

    it('del(name) removes distribution[gid] and returns the group', async () => {
      const [, group] = await call(d.local.groups, 'get', 'g2');
      expect(await call(d.local.groups, 'del', 'g2')).to.deep.equal([null, group]);
      expect(d['g2']).to.equal(undefined);
    });

    it('a missing group is an error for get, del and add', async () => {
      for (const [method, args] of [['get', ['nope']], ['del', ['nope']], ['add', ['nope', other]]] as const) {
        expect((await call(d.local.groups, method, ...args))[0], method).to.be.instanceOf(Error);
      }
    });
  });

  describe('gossip.recv', () => {
    it('runs the carried call once and drops duplicates by message id', async () => {
      let runs = 0;
      await call(d.local.routes, 'put', { hit: (cb: (e: unknown, v: unknown) => void) => cb(null, ++runs) }, 'hits');
      const payload = { mid: d.util.id.getMID('x'), gid: 'all', service: 'hits', method: 'hit', message: [] };
      expect(await call(d.local.gossip, 'recv', payload)).to.deep.equal([null, 1]);
      await call(d.local.gossip, 'recv', payload);
      expect(runs).to.equal(1);
    });
  });

  describe('mem / store', () => {
    it('have put, get, del, append taking (…, cfg, cb); until storage they answer an error', async () => {
      for (const name of ['mem', 'store']) {
        const service = d.local[name] as Record<string, unknown>;
        for (const method of ['put', 'get', 'del', 'append']) expect(service[method], `${name}.${method}`).to.be.a('function');
        const [err] = await call(service, 'get', 'k');
        expect(err).to.be.instanceOf(Error);
      }
    });
  });
});
