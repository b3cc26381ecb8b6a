/** The node runtime's local services and RPC, in the simulator: every row of COURSE-API's status, routes
 * and comm tables that applies at this layer, with its error cases. */
import { expect } from 'chai';
import fc from 'fast-check';
import { defineMethod, getNID, getSID, nodeIdOf, type DistNode } from '../../../src/protocols/node/index.js';
import { codeOf, settle, simCluster, type SimCluster } from '../helpers.js';

const n = (id: string): { ip: string; port: number } => ({ ip: id, port: 0 });

describe('node services (simulator)', () => {
  let c: SimCluster;
  beforeEach(() => {
    c = simCluster(['n1', 'n2', 'n3']);
  });
  const send = (from: string, message: unknown, remote: unknown) =>
    settle(c.sim, (cb) => (c.node(from).services.get('comm') as { send: Function }).send(message, remote, cb));

  describe('status.get', () => {
    it('answers nid, sid, ip, port, counts, heapTotal, heapUsed of the remote node', () => {
      const expected: Record<string, unknown> = { nid: getNID(n('n2')), sid: getSID(n('n2')), ip: 'n2', port: 0 };
      for (const key of ['nid', 'sid', 'ip', 'port']) {
        expect(send('n1', [key], { node: n('n2'), service: 'status', method: 'get' })).to.deep.equal([null, expected[key]]);
      }
      for (const key of ['counts', 'heapTotal', 'heapUsed']) {
        const [err, value] = send('n1', [key], { node: n('n2'), service: 'status', method: 'get' });
        expect(err).to.equal(null);
        expect(value).to.be.a('number');
      }
    });

    it('counts grows with messages handled', () => {
      const [, before] = send('n1', ['counts'], { node: n('n2'), service: 'status', method: 'get' });
      const [, after] = send('n1', ['counts'], { node: n('n2'), service: 'status', method: 'get' });
      expect(after).to.equal((before as number) + 1);
    });

    it('an unknown key (or none) is a coded error', () => {
      expect(codeOf(send('n1', ['bogus'], { node: n('n2'), service: 'status', method: 'get' })[0])).to.equal('E_STATUS_UNKNOWN_KEY');
      expect(codeOf(send('n1', [], { node: n('n2'), service: 'status', method: 'get' })[0])).to.equal('E_STATUS_UNKNOWN_KEY');
    });
  });

  describe('comm.send', () => {
    it('validation errors come back without sending', () => {
      const sentBefore = c.node('n1').stats.callsSent;
      const cases: [unknown, unknown, string][] = [
        ['nid', { node: n('n2'), service: 'status', method: 'get' }, 'E_COMM_BAD_MESSAGE'],
        [['nid'], undefined, 'E_COMM_BAD_REMOTE'],
        [['nid'], { service: 'status', method: 'get' }, 'E_COMM_BAD_NODE'],
        [['nid'], { node: { ip: 'n2' }, service: 'status', method: 'get' }, 'E_COMM_BAD_NODE'],
        [['nid'], { node: { port: 3 }, service: 'status', method: 'get' }, 'E_COMM_BAD_NODE'],
        [['nid'], { node: n('n2'), method: 'get' }, 'E_COMM_BAD_SERVICE'],
        [['nid'], { node: n('n2'), service: 'status' }, 'E_COMM_BAD_METHOD'],
        [['nid'], { node: n('n2'), service: 'status', method: 'get', gid: 7 }, 'E_COMM_BAD_GID'],
      ];
      for (const [message, remote, code] of cases) expect(codeOf(send('n1', message, remote)[0]), code).to.equal(code);
      expect(c.node('n1').stats.callsSent).to.equal(sentBefore);
    });

    it('unknown service or method is a coded error reply', () => {
      expect(codeOf(send('n1', [], { node: n('n2'), service: 'nope', method: 'get' })[0])).to.equal('E_NODE_NO_SERVICE');
      expect(codeOf(send('n1', [], { node: n('n2'), service: 'status', method: 'nope' })[0])).to.equal('E_NODE_NO_METHOD');
      expect(codeOf(send('n1', [], { node: n('n2'), service: 'status', method: 'toString' })[0])).to.equal('E_NODE_NO_METHOD');
    });

    it('a node that is down gives E_NODE_TIMEOUT; idempotent calls are retried, others are not', () => {
      c.sim.crash('n2');
      const before = c.node('n1').stats.retries;
      expect(codeOf(send('n1', ['nid'], { node: n('n2'), service: 'status', method: 'get' })[0])).to.equal('E_NODE_TIMEOUT');
      expect(c.node('n1').stats.retries - before).to.equal(2);
      expect(codeOf(send('n1', ['x', 'y'], { node: n('n2'), service: 'routes', method: 'put' })[0])).to.equal('E_NODE_TIMEOUT');
      expect(c.node('n1').stats.retries - before).to.equal(2);
    });

    it('peerDown fails calls waiting on that peer at once with E_NODE_PEER_DOWN', () => {
      c.sim.crash('n2');
      const [err] = settle(c.sim, (cb) => {
        c.node('n1').callRemote('n2', 'status', 'get', ['nid'], cb);
        c.node('n1').peerDown('n2');
      });
      expect(codeOf(err)).to.equal('E_NODE_PEER_DOWN');
    });

    it('a call to itself goes through the same path', () => {
      expect(send('n1', ['sid'], { node: n('n1'), service: 'status', method: 'get' })).to.deep.equal([null, getSID(n('n1'))]);
    });

    it('arguments that cannot travel are a coded error', () => {
      expect(codeOf(send('n1', [Promise.resolve()], { node: n('n2'), service: 'status', method: 'get' })[0])).to.equal('E_NODE_ARGS_UNENCODABLE');
    });
  });

  describe('routes', () => {
    it('get resolves a local service to the very object the node holds, by name or {service, gid: local}', () => {
      const node = c.node('n1');
      const routes = node.services.get('routes') as { get: Function };
      expect(settle(c.sim, (cb) => routes.get('status', cb))[1]).to.equal(node.services.get('status'));
      expect(settle(c.sim, (cb) => routes.get({ service: 'comm', gid: 'local' }, cb))[1]).to.equal(node.services.get('comm'));
    });

    it('get of unknown, null or a malformed name is an error', () => {
      const routes = c.node('n1').services.get('routes') as { get: Function };
      expect(codeOf(settle(c.sim, (cb) => routes.get('nope', cb))[0])).to.equal('E_ROUTES_NOT_FOUND');
      expect(codeOf(settle(c.sim, (cb) => routes.get(null, cb))[0])).to.equal('E_ROUTES_BAD_NAME');
      expect(codeOf(settle(c.sim, (cb) => routes.get({ gid: 'local' }, cb))[0])).to.equal('E_ROUTES_BAD_NAME');
      expect(codeOf(settle(c.sim, (cb) => routes.get({ service: 'comm', gid: 'nogroup' }, cb))[0])).to.equal('E_ROUTES_NOT_FOUND');
    });

    it('put registers a service (shipped across the wire) that remote calls reach; rem returns it', () => {
      const service = { echo: (x: unknown, cb: Function) => cb(null, ['echo', x]) };
      expect(send('n1', [service, 'echoer'], { node: n('n2'), service: 'routes', method: 'put' })).to.deep.equal([null, 'echoer']);
      expect(send('n1', [41], { node: n('n2'), service: 'echoer', method: 'echo' })).to.deep.equal([null, ['echo', 41]]);
      const [err, removed] = send('n3', ['echoer'], { node: n('n2'), service: 'routes', method: 'rem' });
      expect(err).to.equal(null);
      expect(removed).to.have.property('echo').that.is.a('function');
      expect(codeOf(send('n1', [41], { node: n('n2'), service: 'echoer', method: 'echo' })[0])).to.equal('E_NODE_NO_SERVICE');
      expect(codeOf(send('n1', ['echoer'], { node: n('n2'), service: 'routes', method: 'rem' })[0])).to.equal('E_ROUTES_NOT_FOUND');
    });

    it('put refuses a missing name or a non-object service', () => {
      expect(codeOf(send('n1', [{}, ''], { node: n('n2'), service: 'routes', method: 'put' })[0])).to.equal('E_ROUTES_BAD_NAME');
      expect(codeOf(send('n1', [3, 'x'], { node: n('n2'), service: 'routes', method: 'put' })[0])).to.equal('E_ROUTES_BAD_SERVICE');
    });

    it('get with another gid gives that group service', () => {
      const layer = c.layer('n1');
      layer.table.put({ gid: 'g1' }, {});
      const routes = c.node('n1').services.get('routes') as { get: Function };
      const [err, comm] = settle(c.sim, (cb) => routes.get({ service: 'comm', gid: 'g1' }, cb));
      expect(err).to.equal(null);
      expect(comm).to.equal(layer.servicesFor('g1')?.comm);
    });
  });

  describe('handlers', () => {
    it('a handler that throws gives E_NODE_HANDLER_THREW; one that answers twice is answered once', () => {
      c.node('n2').services.set('bad', {
        boom: () => {
          throw new Error('boom');
        },
        twice: (cb: Function) => {
          cb(null, 1);
          cb(null, 2);
        },
      });
      expect(codeOf(send('n1', [], { node: n('n2'), service: 'bad', method: 'boom' })[0])).to.equal('E_NODE_HANDLER_THREW');
      expect(send('n1', [], { node: n('n2'), service: 'bad', method: 'twice' })).to.deep.equal([null, 1]);
      expect(c.node('n2').stats.repliesExtra).to.equal(1);
    });

    it('too few arguments still find the callback; too many do not lose it', () => {
      c.node('n2').services.set('two', { pair: (a: unknown, b: unknown, cb: Function) => cb(null, [a, b]) });
      expect(send('n1', [1], { node: n('n2'), service: 'two', method: 'pair' })).to.deep.equal([null, [1, undefined]]);
      expect(send('n1', ['nid', 'extra'], { node: n('n2'), service: 'status', method: 'get' })).to.deep.equal([null, getNID(n('n2'))]);
    });
  });

  it('a defined method sees exactly its arity in arguments, padded or trimmed, and a callback past them (property)', () => {
    fc.assert(fc.property(fc.nat(4), fc.array(fc.integer(), { maxLength: 7 }), fc.boolean(), (arity, args, withCallback) => {
      let seen: unknown[] | undefined;
      const answers: unknown[] = [];
      const method = defineMethod(arity, (given, reply) => {
        seen = [...given];
        reply(null, given.length);
      });
      const callback = (err: unknown, value: unknown): number => answers.push([err, value]);
      const given = withCallback ? [...args, callback] : args;
      method(...given);
      // A trailing function past the arity is the callback; anything else is an argument (or dropped).
      const found = withCallback && given.length > arity;
      expect(seen).to.deep.equal(Array.from({ length: arity }, (_, i) => given[i]));
      expect(answers).to.deep.equal(found ? [[null, arity]] : []);
    }), { numRuns: 300 });
  });

  describe('createRPC', () => {
    it('a stub called on another node runs on the creator, against the creator\'s state', () => {
      let counter = 0;
      const creator = c.node('n1');
      const stub = creator.createRPC((by: number, cb: Function) => {
        counter += by;
        cb(null, counter);
      });
      // n2 gets a service whose method calls whatever stub it is handed.
      c.node('n2').services.set('caller', { run: (s: Function, x: number, cb: Function) => s(x, cb) });
      expect(send('n3', [stub, 5], { node: n('n2'), service: 'caller', method: 'run' })).to.deep.equal([null, 5]);
      expect(send('n3', [stub, 2], { node: n('n2'), service: 'caller', method: 'run' })).to.deep.equal([null, 7]);
      expect(counter).to.equal(7);
    });

    it('the rpc id resolves through routes.get and through comm.send {service: id, method: call}', () => {
      const creator = c.node('n1');
      const stub = creator.createRPC((cb: Function) => cb(null, 'hi'));
      const rpcId = /"(rpc-[^"]+)"/.exec(String(stub))?.[1] as string;
      const [, found] = settle(c.sim, (cb) => (creator.services.get('routes') as { get: Function }).get(rpcId, cb));
      expect(found).to.have.property('call').that.is.a('function');
      expect(send('n2', [], { node: n('n1'), service: rpcId, method: 'call' })).to.deep.equal([null, 'hi']);
    });

    it('a stub called outside any node errors with E_RPC_NO_NODE', () => {
      const stub = c.node('n1').createRPC((cb: Function) => cb(null, 1));
      let err: unknown;
      stub((e: unknown) => (err = e));
      expect(codeOf(err)).to.equal('E_RPC_NO_NODE');
    });
  });

  describe('spawn and stop (simulated hosts)', () => {
    it('spawn answers the config once up, joins all; spawning it again is E_NODE_EXISTS; stop ends it', () => {
      const status = c.node('n1').services.get('status') as { spawn: Function };
      const config = { ip: '127.0.0.1', port: 9001 };
      expect(settle(c.sim, (cb) => status.spawn(config, cb))).to.deep.equal([null, config]);
      const id = nodeIdOf(config);
      expect(c.sim.isUp(id)).to.equal(true);
      expect(c.layer('n1').table.get('all')).to.have.property(getSID(config));
      expect(codeOf(settle(c.sim, (cb) => status.spawn(config, cb))[0])).to.equal('E_NODE_EXISTS');
      expect(send('n2', ['port'], { node: config, service: 'status', method: 'get' })).to.deep.equal([null, 9001]);
      expect(send('n2', [], { node: config, service: 'status', method: 'stop' })).to.deep.equal([null, config]);
      c.sim.runUntil(c.sim.now + 100);
      expect(c.sim.isUp(id)).to.equal(false);
    });

    it('spawn refuses a config without ip or with port 0', () => {
      const status = c.node('n1').services.get('status') as { spawn: Function };
      expect(codeOf(settle(c.sim, (cb) => status.spawn({ ip: '127.0.0.1', port: 0 }, cb))[0])).to.equal('E_STATUS_BAD_CONFIG');
      expect(codeOf(settle(c.sim, (cb) => status.spawn({ port: 9 }, cb))[0])).to.equal('E_STATUS_BAD_CONFIG');
    });

    it('stop on a node without a parent stops it through hosts', () => {
      expect(send('n1', [], { node: n('n3'), service: 'status', method: 'stop' })).to.deep.equal([null, n('n3')]);
      c.sim.runUntil(c.sim.now + 100);
      expect(c.sim.isUp('n3')).to.equal(false);
    });
  });

  describe('typed Promise API', () => {
    it('call resolves with the value and rejects with the coded error', async () => {
      const node: DistNode = c.node('n1');
      const ok = node.call<string>('n2', 'status', 'get', ['sid']);
      const bad = node.call('n2', 'status', 'get', ['nope']);
      c.sim.runUntil(c.sim.now + 100);
      expect(await ok).to.equal(getSID(n('n2')));
      const err = await bad.then(() => undefined, (e: unknown) => e);
      expect(codeOf(err)).to.equal('E_STATUS_UNKNOWN_KEY');
    });
  });
});
