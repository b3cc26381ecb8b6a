import { createRequire } from 'node:module';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  addressOf, consistentHash, getID, getNID, getSID, hashByName, hashName, naiveHash, nodeIdOf, rendezvousHash, type HashFn,
} from '../../../src/protocols/node/index.js';

const require = createRequire(import.meta.url);
const reference = require('@brown-ds/distribution/distribution/util/id.js') as Record<string, HashFn & ((o: unknown) => string)>;

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('node ids and hashes', () => {
  it('the default node has SID 8cf1b, like the course', () => {
    expect(getSID({ ip: '127.0.0.1', port: 1234 })).to.equal('8cf1b');
    expect(getNID({ ip: '127.0.0.1', port: 1234 })).to.equal(getID({ ip: '127.0.0.1', port: 1234 }));
  });

  it('getNID reads only ip and port', () => {
    expect(getNID({ ip: '10.0.0.1', port: 80, onStart: () => 1 } as never)).to.equal(getNID({ ip: '10.0.0.1', port: 80 }));
  });

  it('node id and {ip, port} map to each other', () => {
    fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
      const id = nodeIdOf({ ip, port });
      expect(addressOf(id)).to.deep.equal({ ip, port });
    }));
    expect(addressOf('n1')).to.deep.equal({ ip: 'n1', port: 0 });
    expect(nodeIdOf(addressOf('n1'))).to.equal('n1');
  });

  it('a node object whose fields change between calls gets its new id (the last id is reused only when unchanged)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('127.0.0.1', '10.0.0.2', 'n1'), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 12 }), (steps) => {
      const node = { ip: '', port: 0 };
      for (const [ip, port] of steps) {
        node.ip = ip;
        node.port = port;
        expect(nodeIdOf(node)).to.equal(port === 0 ? ip : `${ip}:${port}`);
        expect(nodeIdOf({ ...node })).to.equal(nodeIdOf(node));
      }
    }));
    expect(() => nodeIdOf({ ip: '', port: 1 })).to.throw();
  });

  it('naive, consistent and rendezvous hashes agree with the reference and never mutate nids', () => {
    fc.assert(fc.property(hex64, fc.uniqueArray(hex64, { minLength: 1, maxLength: 8 }), (kid, nids) => {
      const before = [...nids];
      for (const name of ['naiveHash', 'consistentHash', 'rendezvousHash'] as const) {
        const ours = hashByName(name) as HashFn;
        expect(ours(kid, nids)).to.equal((reference[name] as HashFn)(kid, [...nids]));
      }
      expect(nids).to.deep.equal(before);
    }), { numRuns: 200 });
  });

  it('hash functions travel by name', () => {
    expect(hashName(naiveHash)).to.equal('naiveHash');
    expect(hashByName(hashName(consistentHash) as string)).to.equal(consistentHash);
    expect(hashByName(hashName(rendezvousHash) as string)).to.equal(rendezvousHash);
    expect(hashName(() => 'x')).to.equal(undefined);
  });
});
