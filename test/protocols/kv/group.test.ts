/** COURSE-API's mem/store rows on `node` programs in the simulator: the local services and the group
 * services routed by the group's hash, with reconf. (Real lmdb restart: node-store.test.ts.) */
import { expect } from 'chai';
import fc from 'fast-check';
import { consistentHash, getID, getNID, getSID, naiveHash, rendezvousHash, type HashFn } from '../../../src/protocols/node/index.js';
import { reconfCarryOversMax } from '../../../src/protocols/kv/index.js';
import { codeOf, groupOf, settle, simAddress, simCluster, type Methods, type SimCluster } from '../helpers.js';

const n = simAddress;
const person = (i: number): Record<string, unknown> => ({ first: `f${i}`, last: `l${i}`, age: i, city: `c${i % 7}`, active: i % 2 === 0 });

describe('kv: course mem/store on node programs (simulator)', () => {
  let c: SimCluster;
  const ids = ['n1', 'n2', 'n3', 'n4'];
  beforeEach(() => {
    c = simCluster(ids);
  });
  const local = (id: string, service: string): Methods => c.local(id, service);
  const group = (id: string, gid: string, service: string): Methods => c.group(id, gid, service);
  const run = <T = unknown>(f: (cb: (err: Error | null, value?: unknown) => void) => void) => settle<T>(c.sim, f);
  const putGroup = (gid: string, members: string[], on: string[], hash?: HashFn): void => {
    for (const id of on) expect(run((cb) => local(id, 'groups').put!(hash === undefined ? gid : { gid, hash }, groupOf(...members), cb))[0]).to.equal(null);
  };
  /** The member holding `key` of `gid` (local get on every node), or several if the data is duplicated. */
  const holders = (service: string, gid: string, key: string): string[] => ids.filter((id) => c.sim.isUp(id) && run((cb) => local(id, service).get!({ key, gid }, cb))[0] === null);
  const ownerBy = (hash: HashFn, key: string, members: string[]): string => {
    const byNid = new Map(members.map((id) => [getNID(n(id)), id]));
    return byNid.get(hash(getID(key), [...byNid.keys()])) as string;
  };

  for (const service of ['mem', 'store']) {
    describe(`local ${service}`, () => {
      it('put answers the value; get finds it; keys are namespaced by gid (default local)', () => {
        const s = local('n1', service);
        expect(run((cb) => s.put!(person(1), 'k', cb))).to.deep.equal([null, person(1)]);
        expect(run((cb) => s.put!('other', { key: 'k', gid: 'g1' }, cb))).to.deep.equal([null, 'other']);
        expect(run((cb) => s.get!('k', cb))).to.deep.equal([null, person(1)]);
        expect(run((cb) => s.get!({ key: 'k', gid: 'local' }, cb))).to.deep.equal([null, person(1)]);
        expect(run((cb) => s.get!({ key: 'k', gid: 'g1' }, cb))).to.deep.equal([null, 'other']);
      });

      it('put with a null key uses getID(value); get(null) and get({key: null, gid}) list the keys of that gid', () => {
        const s = local('n1', service);
        expect(run((cb) => s.put!(person(2), null, cb))).to.deep.equal([null, person(2)]);
        run((cb) => s.put!('x', 'a', cb));
        run((cb) => s.put!('y', { key: 'b', gid: 'g1' }, cb));
        expect(run((cb) => s.get!(null, cb))).to.deep.equal([null, [getID(person(2)), 'a'].sort()]);
        expect(run((cb) => s.get!({ key: null, gid: 'g1' }, cb))).to.deep.equal([null, ['b']]);
      });

      it('a missing key is an error for get and del; del answers the deleted value; append accumulates', () => {
        const s = local('n1', service);
        expect(codeOf(run((cb) => s.get!('nope', cb))[0])).to.equal('E_KV_NOT_FOUND');
        expect(codeOf(run((cb) => s.del!('nope', cb))[0])).to.equal('E_KV_NOT_FOUND');
        run((cb) => s.put!(7, 'k', cb));
        expect(run((cb) => s.del!('k', cb))).to.deep.equal([null, 7]);
        expect(codeOf(run((cb) => s.get!('k', cb))[0])).to.equal('E_KV_NOT_FOUND');
        expect(run((cb) => s.append!(1, 'list', cb))).to.deep.equal([null, [1]]);
        expect(run((cb) => s.append!(2, 'list', cb))).to.deep.equal([null, [1, 2]]);
        expect(run((cb) => s.get!('list', cb))).to.deep.equal([null, [1, 2]]);
      });

      it('is reachable from another node through comm.send', () => {
        run((cb) => local('n2', 'comm').send!([person(3), { key: 'k', gid: 'g9' }], { node: n('n1'), service, method: 'put' }, cb));
        expect(run((cb) => local('n1', service).get!({ key: 'k', gid: 'g9' }, cb))).to.deep.equal([null, person(3)]);
      });
    });
  }

  it('store survives a crash and restart of its node; mem does not', () => {
    run((cb) => local('n1', 'store').put!(person(4), 'k', cb));
    run((cb) => local('n1', 'mem').put!(person(4), 'k', cb));
    c.sim.crash('n1');
    c.sim.restart('n1');
    c.sim.runUntil(c.sim.now + 100);
    expect(run((cb) => local('n1', 'store').get!('k', cb))).to.deep.equal([null, person(4)]);
    expect(codeOf(run((cb) => local('n1', 'mem').get!('k', cb))[0])).to.equal('E_KV_NOT_FOUND');
  });

  for (const service of ['mem', 'store']) {
    describe(`group ${service}`, () => {
      const members = ['n1', 'n2', 'n3'];
      const hashes: [string, HashFn | undefined, HashFn][] = [['naive (default)', undefined, naiveHash], ['consistent', consistentHash, consistentHash], ['rendezvous', rendezvousHash, rendezvousHash]];
      for (const [name, configured, hash] of hashes) {
        it(`routes each key to the one member its hash names: ${name}`, () => {
          putGroup('g1', members, members, configured);
          for (let i = 0; i < 12; i++) {
            expect(run((cb) => group('n1', 'g1', service).put!(person(i), `key-${i}`, cb))).to.deep.equal([null, person(i)]);
            expect(holders(service, 'g1', `key-${i}`)).to.deep.equal([ownerBy(hash, `key-${i}`, members)]);
            expect(run((cb) => group('n2', 'g1', service).get!(`key-${i}`, cb))).to.deep.equal([null, person(i)]);
          }
        });
      }

      it('a course-style hash that pushes into and sorts the array it is given routes every key the same', () => {
        // The course stencil's consistent hash adds the key to `nids` and sorts it in place.
        const mutating: HashFn = (kid, nids) => {
          const ring = nids as string[];
          ring.push(kid);
          ring.sort();
          const at = ring.indexOf(kid);
          return ring[(at + 1) % ring.length] === kid ? (ring[0] as string) : (ring[(at + 1) % ring.length] as string);
        };
        const reference: HashFn = (kid, nids) => mutating(kid, [...nids]);
        putGroup('g1', members, members, mutating);
        for (let i = 0; i < 12; i++) {
          run((cb) => group('n1', 'g1', service).put!(person(i), `key-${i}`, cb));
          expect(holders(service, 'g1', `key-${i}`)).to.deep.equal([ownerBy(reference, `key-${i}`, members)]);
        }
      });

      it('get(null) gives ({}, all keys across members); del and append route; errors are single values', () => {
        putGroup('g1', members, members);
        const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
        for (const key of keys) run((cb) => group('n1', 'g1', service).put!(key.length, key, cb));
        const [errors, all] = run<string[]>((cb) => group('n3', 'g1', service).get!(null, cb));
        expect(errors).to.deep.equal({});
        expect([...all].sort()).to.deep.equal(keys);
        expect(run((cb) => group('n1', 'g1', service).del!('key-3', cb))).to.deep.equal([null, 5]);
        expect(codeOf(run((cb) => group('n1', 'g1', service).get!('key-3', cb))[0])).to.equal('E_KV_NOT_FOUND');
        expect(run((cb) => group('n2', 'g1', service).append!('a', 'list', cb))).to.deep.equal([null, ['a']]);
        expect(run((cb) => group('n1', 'g1', service).append!('b', 'list', cb))).to.deep.equal([null, ['a', 'b']]);
        expect(holders(service, 'g1', 'list')).to.deep.equal([ownerBy(naiveHash, 'list', members)]);
      });

      it('a null key uses getID(value); an explicit gid in cfg wins for namespacing', () => {
        putGroup('g1', members, members);
        expect(run((cb) => group('n1', 'g1', service).put!(person(9), null, cb))).to.deep.equal([null, person(9)]);
        expect(holders(service, 'g1', getID(person(9)))).to.have.length(1);
        run((cb) => group('n1', 'g1', service).put!('elsewhere', { key: 'k', gid: 'other' }, cb));
        expect(holders(service, 'other', 'k')).to.deep.equal([ownerBy(naiveHash, 'k', members)]);
        expect(holders(service, 'g1', 'k')).to.deep.equal([]);
        expect(run((cb) => group('n2', 'g1', service).get!({ key: 'k', gid: 'other' }, cb))).to.deep.equal([null, 'elsewhere']);
      });

      it('reconf after a member joins moves exactly the keys whose owner changed', () => {
        putGroup('g1', members, ids);
        const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
        for (const key of keys) run((cb) => group('n1', 'g1', service).put!(key, key, cb));
        const before = new Map(keys.map((key) => [key, holders(service, 'g1', key)[0]]));
        const oldGroup = groupOf(...members);
        for (const id of ids) run((cb) => local(id, 'groups').add!('g1', n('n4'), cb));
        const after = new Map(keys.map((key) => [key, ownerBy(naiveHash, key, ids)]));
        const changed = keys.filter((key) => before.get(key) !== after.get(key));
        expect(changed.length).to.be.greaterThan(0);
        const [err, moved] = run((cb) => group('n1', 'g1', service).reconf!(oldGroup, cb));
        expect(err).to.equal(null);
        expect(moved).to.equal(changed.length);
        for (const key of keys) {
          expect(holders(service, 'g1', key), key).to.deep.equal([after.get(key)]);
          expect(run((cb) => group('n2', 'g1', service).get!(key, cb))).to.deep.equal([null, key]);
        }
      });

      /** 60 keys put on g1 of n1..n3, where each lives, then n4 joins g1 everywhere: the stage of a reconf. */
      const stageJoin = (): { keys: string[]; before: Map<string, string>; oldGroup: ReturnType<typeof groupOf> } => {
        putGroup('g1', members, ids);
        const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
        for (const key of keys) run((cb) => group('n1', 'g1', service).put!(key, key, cb));
        const before = new Map(keys.map((key) => [key, holders(service, 'g1', key)[0] as string]));
        for (const id of ids) run((cb) => local(id, 'groups').add!('g1', n('n4'), cb));
        return { keys, before, oldGroup: groupOf(...members) };
      };

      it('reconf racing puts loses none: a put that reaches the new owner first wins, a late put on the old owner is carried over', () => {
        const { keys, before, oldGroup } = stageJoin();
        const after = new Map(keys.map((key) => [key, ownerBy(naiveHash, key, ids)]));
        const [racedNew, racedOld] = keys.filter((key) => before.get(key) !== after.get(key));
        expect(racedOld, 'two keys move').to.be.a('string');
        /** Runs `race` once, just before `node`'s local service handles the first of `methods` for `key`. */
        const raceBefore = (node: string, key: string, methods: string[], race: (store: Methods) => void): void => {
          const store = local(node, service) as Record<string, (...args: unknown[]) => void>;
          let raced = false;
          for (const method of methods) {
            const original = store[method];
            if (original === undefined) continue;
            store[method] = (...args: unknown[]) => {
              const cfg = args[args.length - 2] as { key?: unknown } | undefined;
              if (!raced && cfg?.key === key) {
                raced = true;
                race(store as Methods);
              }
              original(...args);
            };
          }
        };
        // A put routed by the new group lands on the new owner just before the move's copy does.
        raceBefore(after.get(racedNew!)!, racedNew!, ['put', 'cas'], (store) => store.put!('newer', { key: racedNew, gid: 'g1' }, () => undefined));
        // A put routed by the old group lands on the old owner just before the move drops its copy.
        raceBefore(before.get(racedOld!)!, racedOld!, ['del', 'cas'], (store) => store.put!('late', { key: racedOld, gid: 'g1' }, () => undefined));
        const [err] = run((cb) => group('n1', 'g1', service).reconf!(oldGroup, cb));
        expect(err).to.equal(null);
        expect(run((cb) => group('n2', 'g1', service).get!(racedNew, cb))).to.deep.equal([null, 'newer']);
        expect(run((cb) => group('n3', 'g1', service).get!(racedOld, cb))).to.deep.equal([null, 'late']);
        for (const key of keys) expect(holders(service, 'g1', key), key).to.deep.equal([after.get(key)]);
      });

      it('property: puts routed by the new group at any moment of a reconf are never lost or undone by it', () => {
        fc.assert(
          fc.property(fc.array(fc.tuple(fc.nat({ max: 11 }), fc.nat({ max: 60 }), fc.constantFrom('n1', 'n2', 'n3', 'n4')), { minLength: 1, maxLength: 25 }), (puts) => {
            c = simCluster(ids);
            putGroup('g1', members, ids);
            const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
            for (const key of keys) run((cb) => group('n1', 'g1', service).put!('original', key, cb));
            const oldGroup = groupOf(...members);
            for (const id of ids) run((cb) => local(id, 'groups').add!('g1', n('n4'), cb));
            // Each put: which key, how many virtual ms after the reconf starts, through which node.
            const acked: { key: string; value: string; invokeMs: number; ackMs: number }[] = [];
            const [err] = run((cb) => {
              const startMs = c.sim.now;
              group('n1', 'g1', service).reconf!(oldGroup, cb);
              puts.forEach(([k, atMs, via], i) => c.sim.at(startMs + atMs, () => {
                const put = { key: `key-${k}`, value: `v${i}`, invokeMs: c.sim.now, ackMs: Infinity };
                group(via, 'g1', service).put!(put.value, put.key, (e: Error | null) => {
                  if (e !== null) return;
                  put.ackMs = c.sim.now;
                  acked.push(put);
                });
              }));
            });
            expect(err).to.equal(null);
            c.sim.runUntil(c.sim.now + 1_000);
            for (const key of keys) {
              const [getErr, value] = run((cb) => group('n2', 'g1', service).get!(key, cb));
              expect(getErr).to.equal(null);
              const writer = acked.find((p) => p.value === value);
              const mine = acked.filter((p) => p.key === key);
              // The value read is a put not followed by one invoked after it was acknowledged.
              if (writer === undefined) expect(mine, `${key} kept its original value`).to.deep.equal([]);
              else expect(mine.filter((p) => p.invokeMs > writer.ackMs), `${key} = ${String(value)}`).to.deep.equal([]);
            }
          }),
          { numRuns: 25 },
        );
      });

      it('a key that keeps changing on its old owner during a move: reconf gives up with E_KV_RECONF_RACE, the key still readable', () => {
        const { keys, before, oldGroup } = stageJoin();
        const churned = keys.find((key) => before.get(key) !== ownerBy(naiveHash, key, ids))!;
        // Every time the move tries to drop the old copy, a put routed by the old group has just changed it.
        const oldOwner = local(before.get(churned)!, service) as Record<string, (...args: unknown[]) => void>;
        const cas = oldOwner['cas']!;
        let late = 0;
        oldOwner['cas'] = (...args: unknown[]) => {
          if ((args[2] as { key?: unknown }).key === churned) oldOwner['put']!(`late-${++late}`, { key: churned, gid: 'g1' }, () => undefined);
          cas(...args);
        };
        const [err] = run((cb) => group('n1', 'g1', service).reconf!(oldGroup, cb));
        expect(codeOf(err)).to.equal('E_KV_RECONF_RACE');
        expect(late).to.equal(reconfCarryOversMax + 1);
        // The newest late value was never dropped: it is on the old owner, and the new owner has the one before it.
        expect(run((cb) => local(before.get(churned)!, service).get!({ key: churned, gid: 'g1' }, cb))).to.deep.equal([null, `late-${late}`]);
      });

      it('cas (what reconf moves keys with) swaps only from the expected state and refuses bad input', () => {
        const cas = (expected: unknown, next: unknown, key = 'k') => run((cb) => local('n1', service).cas!(expected, next, { key, gid: 'g9' }, cb));
        expect(cas({ absent: true }, { value: { a: 1 } })).to.deep.equal([null, { swapped: true }]);
        expect(cas({ absent: true }, { value: 'other' })).to.deep.equal([null, { swapped: false, current: { value: { a: 1 } } }]);
        expect(cas({ value: { a: 2 } }, { absent: true })).to.deep.equal([null, { swapped: false, current: { value: { a: 1 } } }]);
        expect(cas({ value: { a: 1 } }, { value: [1, 2] })).to.deep.equal([null, { swapped: true }]);
        expect(cas({ value: [1, 2] }, { absent: true })).to.deep.equal([null, { swapped: true }]);
        expect(codeOf(run((cb) => local('n1', service).get!({ key: 'k', gid: 'g9' }, cb))[0])).to.equal('E_KV_NOT_FOUND');
        expect(cas({ absent: true }, { absent: true })).to.deep.equal([null, { swapped: true }]);
        expect(codeOf(cas('nope', { absent: true })[0])).to.equal('E_KV_BAD_CONFIG');
        expect(codeOf(run((cb) => local('n1', service).cas!({ absent: true }, { value: 1 }, { key: null, gid: 'g9' }, cb))[0])).to.equal('E_KV_BAD_KEY');
      });

      it('reconf after a member leaves moves its keys to their new owners; nothing else moves', () => {
        putGroup('g1', ids, ids);
        const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
        for (const key of keys) run((cb) => group('n1', 'g1', service).put!(key, key, cb));
        const leaving = keys.filter((key) => holders(service, 'g1', key)[0] === 'n4');
        const oldGroup = groupOf(...ids);
        for (const id of ids) run((cb) => local(id, 'groups').rem!('g1', getSID(n('n4')), cb));
        const after = new Map(keys.map((key) => [key, ownerBy(naiveHash, key, members)]));
        const changed = keys.filter((key) => holders(service, 'g1', key)[0] !== after.get(key));
        expect(changed).to.include.members(leaving);
        const [err, moved] = run((cb) => group('n1', 'g1', service).reconf!(oldGroup, cb));
        expect(err).to.equal(null);
        expect(moved).to.equal(changed.length);
        for (const key of keys) expect(holders(service, 'g1', key), key).to.deep.equal([after.get(key)]);
      });

      it('bad input answers coded errors: a bad cfg, an empty group, a bad old group', () => {
        putGroup('g1', members, members);
        expect(codeOf(run((cb) => group('n1', 'g1', service).get!(42, cb))[0])).to.equal('E_KV_BAD_CONFIG');
        expect(codeOf(run((cb) => group('n1', 'g1', service).del!(null, cb))[0])).to.equal('E_KV_BAD_KEY');
        expect(codeOf(run((cb) => group('n1', 'g1', service).reconf!('nope', cb))[0])).to.equal('E_KV_BAD_GROUP');
        run((cb) => local('n1', 'groups').put!('empty', {}, cb));
        expect(codeOf(run((cb) => group('n1', 'empty', service).put!(1, 'k', cb))[0])).to.equal('E_GROUP_EMPTY');
      });
    });
  }
});
