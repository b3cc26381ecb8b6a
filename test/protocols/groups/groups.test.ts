/** Groups and group services in the simulator: COURSE-API's groups table and group-services table,
 * with their error cases. */
import { expect } from 'chai';
import fc from 'fast-check';
import { consistentHash, getNID, getSID, type Service } from '../../../src/protocols/node/index.js';
import { aggregateStatus, GroupsTable, pickSubset, SeenSet, subsetSize } from '../../../src/protocols/groups/index.js';
import { codeOf, groupOf, settle, simAddress, simCluster, type Methods, type SimCluster } from '../helpers.js';

const n = simAddress;
const sid = (id: string): string => getSID(n(id));


describe('groups (simulator)', () => {
  let c: SimCluster;
  const ids = ['n1', 'n2', 'n3', 'n4'];
  beforeEach(() => {
    c = simCluster(ids);
  });
  const local = (id: string, service: string): Methods => c.local(id, service);
  const group = (id: string, gid: string, service: string): Methods => c.group(id, gid, service);
  const run = (f: (cb: (err: Error | null, value?: unknown) => void) => void) => settle(c.sim, f);
  /** Puts group g1 = n1..n3 on every one of its members. */
  const putG1 = (): void => {
    for (const id of ['n1', 'n2', 'n3']) expect(run((cb) => local(id, 'groups').put!('g1', groupOf('n1', 'n2', 'n3'), cb))[0]).to.equal(null);
  };

  describe('local groups service', () => {
    it('put returns the group and get finds it; del removes and returns it', () => {
      const g = groupOf('n2', 'n3');
      expect(run((cb) => local('n1', 'groups').put!({ gid: 'g1' }, g, cb))).to.deep.equal([null, g]);
      expect(run((cb) => local('n1', 'groups').get!('g1', cb))).to.deep.equal([null, g]);
      expect(run((cb) => local('n1', 'groups').del!('g1', cb))).to.deep.equal([null, g]);
      expect(codeOf(run((cb) => local('n1', 'groups').get!('g1', cb))[0])).to.equal('E_GROUPS_NOT_FOUND');
    });

    it('add and rem change membership; rem of an unknown sid is a no-op', () => {
      local('n1', 'groups');
      run((cb) => local('n1', 'groups').put!('g1', groupOf('n2'), cb));
      expect(run((cb) => local('n1', 'groups').add!('g1', n('n3'), cb))).to.deep.equal([null, groupOf('n2', 'n3')]);
      expect(run((cb) => local('n1', 'groups').rem!('g1', sid('n2'), cb))).to.deep.equal([null, groupOf('n3')]);
      expect(run((cb) => local('n1', 'groups').rem!('g1', 'zzzzz', cb))).to.deep.equal([null, groupOf('n3')]);
    });

    it('missing group is an error for get, del and add; bad config and bad group are errors for put', () => {
      const g = local('n1', 'groups');
      expect(codeOf(run((cb) => g.get!('nope', cb))[0])).to.equal('E_GROUPS_NOT_FOUND');
      expect(codeOf(run((cb) => g.del!('nope', cb))[0])).to.equal('E_GROUPS_NOT_FOUND');
      expect(codeOf(run((cb) => g.add!('nope', n('n2'), cb))[0])).to.equal('E_GROUPS_NOT_FOUND');
      expect(codeOf(run((cb) => g.put!({ nogid: 1 }, {}, cb))[0])).to.equal('E_GROUPS_BAD_CONFIG');
      expect(codeOf(run((cb) => g.put!('local', {}, cb))[0])).to.equal('E_GROUPS_BAD_CONFIG');
      // Keys are kept as given, as the course's nodes keep them (its tests use made-up SIDs).
      expect(run((cb) => g.put!('g1', { abcde: n('n2') }, cb))).to.deep.equal([null, { abcde: n('n2') }]);
      expect(codeOf(run((cb) => g.put!('g1', { abcde: 'not a node' }, cb))[0])).to.equal('E_GROUPS_BAD_GROUP');
      expect(codeOf(run((cb) => g.put!('g1', [1], cb))[0])).to.equal('E_GROUPS_BAD_GROUP');
    });

    it("'all' holds this node and the nodes it spawned", () => {
      expect(run((cb) => local('n1', 'groups').get!('all', cb))).to.deep.equal([null, groupOf('n1')]);
      const spawned = { ip: '127.0.0.1', port: 9100 };
      run((cb) => local('n1', 'status').spawn!(spawned, cb));
      expect(run((cb) => local('n1', 'groups').get!('all', cb))[1]).to.deep.equal({ ...groupOf('n1'), [getSID(spawned)]: spawned });
    });

    it('put creates the group services; del removes them', () => {
      run((cb) => local('n1', 'groups').put!('g1', groupOf('n1'), cb));
      expect(c.layer('n1').servicesFor('g1')).to.have.keys(['comm', 'status', 'routes', 'groups', 'gossip', 'mr', 'mem', 'store']);
      run((cb) => local('n1', 'groups').del!('g1', cb));
      expect(c.layer('n1').servicesFor('g1')).to.equal(undefined);
    });
  });

  describe('group services', () => {
    it('comm.send calls every member: errors {} and values keyed by SID', () => {
      putG1();
      const [errors, values] = run((cb) => group('n1', 'g1', 'comm').send!(['sid'], { service: 'status', method: 'get' }, cb));
      expect(errors).to.deep.equal({});
      expect(values).to.deep.equal(Object.fromEntries(['n1', 'n2', 'n3'].map((id) => [sid(id), sid(id)])));
    });

    it('comm.send puts a dead member in errors and the rest in values', () => {
      putG1();
      c.sim.crash('n3');
      const [errors, values] = run((cb) => group('n1', 'g1', 'comm').send!(['nid'], { service: 'status', method: 'get' }, cb));
      expect(Object.keys(errors as object)).to.deep.equal([sid('n3')]);
      expect(codeOf((errors as unknown as Record<string, Error>)[sid('n3')])).to.equal('E_NODE_TIMEOUT');
      expect(Object.keys(values as object).sort()).to.deep.equal([sid('n1'), sid('n2')].sort());
    });

    it('a group with no members gives one error and no value; a bad message or remote is refused by every member', () => {
      run((cb) => local('n1', 'groups').put!('empty', {}, cb));
      const [err, values] = run((cb) => group('n1', 'empty', 'comm').send!([], { service: 'status', method: 'get' }, cb));
      expect(err).to.be.instanceOf(Error);
      expect(codeOf(err)).to.equal('E_GROUP_EMPTY');
      expect(values).to.equal(undefined);
      run((cb) => local('n1', 'groups').put!('g1', groupOf('n1'), cb));
      const refusedBy = (message: unknown, remote: unknown): [string[], string | undefined, unknown] => {
        const [errors, refusedValues] = run((cb) => group('n1', 'g1', 'comm').send!(message, remote, cb));
        const byMember = errors as unknown as Record<string, Error>;
        return [Object.keys(byMember), codeOf(byMember[sid('n1')]), refusedValues];
      };
      expect(refusedBy('x', { service: 'status', method: 'get' })).to.deep.equal([[sid('n1')], 'E_COMM_BAD_MESSAGE', {}]);
      expect(refusedBy([], { method: 'get' })).to.deep.equal([[sid('n1')], 'E_COMM_BAD_SERVICE', {}]);
    });

    it('comm.send with a remote gid reaches that group service on each member', () => {
      putG1();
      const [errors, values] = run((cb) => group('n1', 'g1', 'comm').send!(['sid'], { service: 'status', method: 'get', gid: 'g1' }, cb));
      expect(errors).to.deep.equal({});
      // Each member answers with its own aggregate of g1: the sorted list of SIDs.
      const sids = ['n1', 'n2', 'n3'].map(sid).sort();
      for (const value of Object.values(values as object)) expect(value).to.deep.equal(sids);
    });

    it('status.get: nid and sid give arrays, heapTotal the sum, other keys a map, unknown key an errors map', () => {
      putG1();
      const get = (key: string) => run((cb) => group('n1', 'g1', 'status').get!(key, cb));
      expect(get('sid')).to.deep.equal([{}, ['n1', 'n2', 'n3'].map(sid).sort()]);
      expect(get('nid')[1]).to.have.members(['n1', 'n2', 'n3'].map((id) => getNID(n(id))));
      expect(get('heapTotal')).to.deep.equal([{}, 3 * c.node('n1').heap().heapTotal]);
      expect(get('port')).to.deep.equal([{}, { [sid('n1')]: 0, [sid('n2')]: 0, [sid('n3')]: 0 }]);
      const [errors, values] = get('bogus');
      expect(Object.keys(errors as object)).to.have.length(3);
      expect(Object.values(errors as object).every((e) => codeOf(e) === 'E_STATUS_UNKNOWN_KEY')).to.equal(true);
      expect(values).to.deep.equal({});
    });

    it('routes.put and rem act on every member', () => {
      putG1();
      const svc = { hello: (cb: Function) => cb(null, 'hello') };
      expect(run((cb) => group('n1', 'g1', 'routes').put!(svc, 'hi', cb))[0]).to.deep.equal({});
      const [, values] = run((cb) => group('n1', 'g1', 'comm').send!([], { service: 'hi', method: 'hello' }, cb));
      expect(Object.values(values as object)).to.deep.equal(['hello', 'hello', 'hello']);
      expect(run((cb) => group('n1', 'g1', 'routes').rem!('hi', cb))[0]).to.deep.equal({});
      for (const id of ['n1', 'n2', 'n3']) expect(c.node(id).services.has('hi')).to.equal(false);
    });

    it('groups.put creates the group on every member, library hashes arriving as the same function', () => {
      putG1();
      const members = groupOf('n1', 'n2');
      const [errors] = run((cb) => group('n1', 'g1', 'groups').put!({ gid: 'g2', hash: consistentHash }, members, cb));
      expect(errors).to.deep.equal({});
      for (const id of ['n1', 'n2', 'n3']) {
        expect(c.layer(id).table.get('g2')).to.deep.equal(members);
        expect(c.layer(id).table.config('g2')?.hash).to.equal(consistentHash);
      }
      const [, got] = run((cb) => group('n1', 'g1', 'groups').get!('g2', cb));
      expect(Object.values(got as object)).to.deep.equal([members, members, members]);
      run((cb) => group('n1', 'g1', 'groups').add!('g2', n('n4'), cb));
      expect(c.layer('n3').table.get('g2')).to.have.property(sid('n4'));
      run((cb) => group('n1', 'g1', 'groups').rem!('g2', sid('n4'), cb));
      expect(c.layer('n3').table.get('g2')).not.to.have.property(sid('n4'));
      run((cb) => group('n1', 'g1', 'groups').del!('g2', cb));
      expect(codeOf(c.layer('n2').table.get('g2'))).to.equal('E_GROUPS_NOT_FOUND');
    });

    it('status.spawn adds the new node to the group everywhere; status.stop stops every member', () => {
      putG1();
      const spawned = { ip: '127.0.0.1', port: 9200 };
      expect(run((cb) => group('n1', 'g1', 'status').spawn!(spawned, cb))).to.deep.equal([null, spawned]);
      for (const id of ['n1', 'n2', 'n3', '127.0.0.1:9200']) expect(c.layer(id).table.get('g1')).to.have.property(getSID(spawned));
      run((cb) => local('n4', 'groups').put!('g1', c.layer('n1').table.get('g1'), cb));
      const [errors, values] = run((cb) => group('n4', 'g1', 'status').stop!(cb));
      expect(errors).to.deep.equal({});
      expect(Object.keys(values as object)).to.have.length(4);
      // The spawned node asks its parent (n1, stopping too) to reap it; failing that, it ends itself.
      c.sim.runUntil(c.sim.now + 5_000);
      for (const id of ['n1', 'n2', 'n3', '127.0.0.1:9200']) expect(c.sim.isUp(id), id).to.equal(false);
    });

    it('mem and store are wired (their table rows: test/protocols/kv/group.test.ts)', () => {
      putG1();
      expect(run((cb) => group('n1', 'g1', 'mem').put!('v', 'k', cb))).to.deep.equal([null, 'v']);
      expect(run((cb) => group('n2', 'g1', 'mem').get!('k', cb))).to.deep.equal([null, 'v']);
      expect(codeOf(run((cb) => local('n1', 'store').get!('k', cb))[0])).to.equal('E_KV_NOT_FOUND');
    });
  });

  describe('gossip', () => {
    const tenIds = Array.from({ length: 10 }, (_, i) => `n${i + 1}`);

    it('send reaches every member exactly once, re-gossiped with duplicate suppression', () => {
      c = simCluster(tenIds, { args: () => ({ groups: [{ config: 'g', group: groupOf(...tenIds) }], antiEntropyMs: 0 }) });
      const got = new Map<string, number>();
      for (const id of tenIds) c.node(id).services.set('sink', { take: (m: string, cb: Function) => cb(null, got.set(id, (got.get(id) ?? 0) + 1) && m) });
      const [errors] = run((cb) => group('n1', 'g', 'gossip').send!(['hello'], { service: 'sink', method: 'take' }, cb));
      expect(errors).to.deep.equal({});
      c.sim.runUntil(c.sim.now + 2_000);
      expect([...got.keys()].sort()).to.deep.equal([...tenIds].sort());
      expect([...got.values()].every((count) => count === 1)).to.equal(true);
      const duplicates = tenIds.reduce((sum, id) => sum + c.layer(id).stats.gossipDuplicates, 0);
      expect(duplicates).to.be.greaterThan(0);
    });

    it('anti-entropy brings a message to a member that was down while it spread', () => {
      c = simCluster(tenIds, { args: () => ({ groups: [{ config: 'g', group: groupOf(...tenIds) }], antiEntropyMs: 100 }) });
      const got = new Set<string>();
      const sink = (id: string): Service => ({ take: (_m: string, cb: Function) => cb(null, got.add(id)) });
      for (const id of tenIds) c.node(id).services.set('sink', sink(id));
      c.sim.crash('n10');
      run((cb) => group('n1', 'g', 'gossip').send!(['x'], { service: 'sink', method: 'take' }, cb));
      c.sim.runUntil(c.sim.now + 500);
      expect(got.has('n10')).to.equal(false);
      c.sim.restart('n10');
      c.node('n10').services.set('sink', sink('n10'));
      c.sim.runUntil(c.sim.now + 5_000);
      expect(got.has('n10')).to.equal(true);
    });

    it('at runs a function periodically until del; bad arguments and unknown handles are errors', () => {
      putG1();
      let ticks = 0;
      const [err, handle] = run((cb) => group('n1', 'g1', 'gossip').at!(100, () => ticks++, cb));
      expect(err).to.equal(null);
      c.sim.runUntil(c.sim.now + 1_000);
      expect(ticks).to.be.within(9, 11);
      expect(run((cb) => group('n1', 'g1', 'gossip').del!(handle, cb))).to.deep.equal([null, handle]);
      const after = ticks;
      c.sim.runUntil(c.sim.now + 1_000);
      expect(ticks).to.equal(after);
      expect(codeOf(run((cb) => group('n1', 'g1', 'gossip').del!(handle, cb))[0])).to.equal('E_GOSSIP_UNKNOWN_HANDLE');
      expect(codeOf(run((cb) => group('n1', 'g1', 'gossip').at!(0, () => 1, cb))[0])).to.equal('E_GOSSIP_BAD_PERIOD');
      expect(codeOf(run((cb) => group('n1', 'g1', 'gossip').at!(10, 'x', cb))[0])).to.equal('E_GOSSIP_BAD_FN');
    });

    it('recv refuses a malformed payload', () => {
      expect(codeOf(run((cb) => local('n1', 'gossip').recv!({ mid: 1 }, cb))[0])).to.equal('E_GOSSIP_BAD_PAYLOAD');
    });
  });

  describe('membership hooks', () => {
    it('nodeDead removes the node from every group here and fails calls waiting on it', () => {
      putG1();
      c.sim.crash('n3');
      const [err] = run((cb) => {
        c.node('n1').callRemote('n3', 'status', 'get', ['nid'], cb);
        expect(c.layer('n1').nodeDead('n3')).to.deep.equal(['g1']);
      });
      expect(codeOf(err)).to.equal('E_NODE_PEER_DOWN');
      expect(c.layer('n1').table.get('g1')).to.deep.equal(groupOf('n1', 'n2'));
      c.layer('n1').nodeAlive('n3');
      expect(c.layer('n1').table.get('all')).to.have.property(sid('n3'));
    });
  });
});

describe('groups core (pure)', () => {
  it('all always holds self; rem of self from all is a no-op', () => {
    const t = new GroupsTable(n('n1'));
    expect(t.rem('all', sid('n1'))).to.deep.equal(groupOf('n1'));
    expect(t.put({ gid: 'all' }, {})).to.deep.equal(groupOf('n1'));
    expect(t.removeEverywhere(sid('n1'))).to.deep.equal([]);
  });

  it('subset size is ceil(ln n) by default, within [1, n]', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }), (count, subset) => {
      const k = subsetSize(subset === undefined ? { gid: 'g' } : { gid: 'g', subset }, new Array(count));
      expect(k).to.be.within(1, count);
      if (subset === undefined) expect(k).to.equal(Math.max(1, Math.ceil(Math.log(count))));
    }));
    expect(subsetSize({ gid: 'g', subset: (l) => l.length - 1 }, [1, 2, 3])).to.equal(2);
  });

  it('pickSubset picks distinct items', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat(), { maxLength: 30 }), fc.nat(), (items, seed) => {
      const k = items.length === 0 ? 0 : seed % (items.length + 1);
      let s = seed;
      const picked = pickSubset(items, k, (m) => (s = (s * 1103515245 + 12345) >>> 0) % m);
      expect(new Set(picked).size).to.equal(k);
      for (const p of picked) expect(items).to.include(p);
    }));
  });

  it('the seen-set is bounded and forgets the oldest first', () => {
    const seen = new SeenSet(3);
    for (const id of ['a', 'b', 'c', 'd']) expect(seen.add(id)).to.equal(true);
    expect(seen.size).to.equal(3);
    expect(seen.has('a')).to.equal(false);
    expect(seen.add('d')).to.equal(false);
  });

  it('status aggregation sums heapTotal in SID order and keeps other keys as a map', () => {
    expect(aggregateStatus('heapTotal', { b: 2, a: 1 })).to.equal(3);
    expect(aggregateStatus('sid', { b: 'b', a: 'a' })).to.deep.equal(['a', 'b']);
    expect(aggregateStatus('counts', { b: 2, a: 1 })).to.deep.equal({ b: 2, a: 1 });
  });
});
