/**
 * COURSE-API's mem/store through the facade on real processes: local rows, store surviving a restart of
 * a spawned node (LMDB under its store directory), the default `./store/` of the working directory,
 * and group mem/store over three nodes with reconf.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { courseStoreDir } from '../../src/runtime/course-env.js';
import { bundlePath, call, closeNode, freePort, requireFacade, startNode, startProcess, waitMsMax, type Distribution } from './helpers.js';

type Node = { ip: string; port: number };
const person = (i: number): Record<string, unknown> => ({ first: `f${i}`, last: `l${i}`, age: i, city: `c${i % 7}`, active: i % 2 === 0 });

describe('facade: mem and store on real processes', function () {
  this.timeout(30_000);
  let d: Distribution;
  let storeRoot: string;
  const spawned: Node[] = [];
  const send = (node: Node, service: string, method: string, ...args: unknown[]): Promise<[any, any]> => call(d.local.comm, 'send', args, { node, service, method });
  /** Spawns `node`; a node just stopped may still be exiting (E_NODE_EXISTS) for a moment. */
  const spawn = async (node: Node): Promise<void> => {
    const startMs = performance.now();
    let [err] = await call(d.local.status, 'spawn', { ...node, storeDir: storeRoot });
    while (err !== null && performance.now() - startMs < waitMsMax) {
      await new Promise((r) => setTimeout(r, 50));
      [err] = await call(d.local.status, 'spawn', { ...node, storeDir: storeRoot });
    }
    expect(err).to.equal(null);
    spawned.push(node);
  };
  const stop = async (node: Node): Promise<void> => {
    await send(node, 'status', 'stop');
    spawned.splice(spawned.indexOf(node), 1);
  };

  before(async () => {
    storeRoot = mkdtempSync(join(tmpdir(), 'distribution-facade-store-'));
    d = await startNode(requireFacade(), { storeDir: storeRoot });
  });

  after(async () => {
    for (const node of [...spawned]) await stop(node);
    await closeNode(d);
    rmSync(storeRoot, { recursive: true, force: true });
  });

  it('local mem and store: put, get, get(null), del, append, namespacing by gid', async () => {
    for (const service of ['mem', 'store']) {
      const s = d.local[service];
      expect(await call(s, 'put', person(1), 'k')).to.deep.equal([null, person(1)]);
      expect(await call(s, 'put', 'g', { key: 'k', gid: 'g1' })).to.deep.equal([null, 'g']);
      expect(await call(s, 'get', 'k')).to.deep.equal([null, person(1)]);
      expect(await call(s, 'get', { key: 'k', gid: 'g1' })).to.deep.equal([null, 'g']);
      expect(await call(s, 'put', person(2), null)).to.deep.equal([null, person(2)]);
      expect((await call(s, 'get', null))[1]).to.have.members(['k', d.util.id.getID(person(2))]);
      expect(await call(s, 'del', 'k')).to.deep.equal([null, person(1)]);
      expect((await call(s, 'get', 'k'))[0]).to.be.instanceOf(Error);
      expect((await call(s, 'del', 'k'))[0]).to.be.instanceOf(Error);
      expect(await call(s, 'append', 1, 'list')).to.deep.equal([null, [1]]);
      expect(await call(s, 'append', 2, 'list')).to.deep.equal([null, [1, 2]]);
    }
    expect(existsSync(courseStoreDir(storeRoot, `127.0.0.1:${d.node.config.port}`))).to.equal(true);
  });

  it('store survives a restart of a spawned node; mem does not', async () => {
    const node = { ip: '127.0.0.1', port: await freePort() };
    await spawn(node);
    expect(await send(node, 'store', 'put', person(3), 'kept')).to.deep.equal([null, person(3)]);
    expect(await send(node, 'mem', 'put', person(3), 'kept')).to.deep.equal([null, person(3)]);
    await stop(node);
    await spawn(node);
    expect(await send(node, 'store', 'get', 'kept')).to.deep.equal([null, person(3)]);
    expect((await send(node, 'mem', 'get', 'kept'))[0]).to.be.instanceOf(Error);
    await stop(node);
  });

  it('by default a node keeps its store under ./store/<node> of its working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'distribution-facade-cwd-'));
    const port = await freePort();
    const child = await startProcess(bundlePath, ['--ip', '127.0.0.1', '--port', String(port)], port, cwd);
    try {
      expect(await send({ ip: '127.0.0.1', port }, 'store', 'put', 1, 'k')).to.deep.equal([null, 1]);
      expect(existsSync(join(cwd, 'store', `127.0.0.1_${port}`))).to.equal(true);
    } finally {
      await child.stop();
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('group mem and store on three nodes: routed puts, gets from any member, get(null), reconf after a join', async () => {
    const nodes = [{ ip: '127.0.0.1', port: await freePort() }, { ip: '127.0.0.1', port: await freePort() }];
    for (const node of nodes) await spawn(node);
    const self = { ip: d.node.config.ip, port: d.node.config.port };
    const members = [self, ...nodes];
    const groupOf = (list: Node[]): Record<string, Node> => Object.fromEntries(list.map((node) => [d.util.id.getSID(node), node]));
    expect((await call(d.local.groups, 'put', 'g3', groupOf(members)))[0]).to.equal(null);
    const [putErrors] = await call(d.all.groups, 'put', 'g3', groupOf(members));
    expect(putErrors).to.deep.equal({});
    const g = d['g3'] as Record<string, unknown>;
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    for (const service of ['mem', 'store']) {
      const s = g[service];
      for (const [i, key] of keys.entries()) expect(await call(s, 'put', person(i), key)).to.deep.equal([null, person(i)]);
      for (const [i, key] of keys.entries()) expect(await call(s, 'get', key)).to.deep.equal([null, person(i)]);
      const [errors, all] = await call(s, 'get', null);
      expect(errors).to.deep.equal({});
      expect([...all].sort()).to.deep.equal([...keys].sort());
    }
    // A fourth node joins; reconf moves what changed owner, and every key still reads back.
    const joiner = { ip: '127.0.0.1', port: await freePort() };
    await spawn(joiner);
    const oldGroup = groupOf(members);
    const grown = groupOf([...members, joiner]);
    expect((await call(d.local.groups, 'put', 'g3', grown))[0]).to.equal(null);
    expect((await call(d.all.groups, 'put', 'g3', grown))[0]).to.deep.equal({});
    const { getID, getNID, naiveHash } = d.util.id;
    const ownerOf = (key: string, list: Node[]): string => naiveHash(getID(key), list.map(getNID));
    const changed = keys.filter((key) => ownerOf(key, members) !== ownerOf(key, [...members, joiner]));
    const toJoiner = keys.filter((key) => ownerOf(key, [...members, joiner]) === getNID(joiner));
    for (const service of ['mem', 'store']) {
      const s = (d['g3'] as Record<string, unknown>)[service];
      expect(await call(s, 'reconf', oldGroup)).to.deep.equal([null, changed.length]);
      for (const [i, key] of keys.entries()) expect(await call(s, 'get', key)).to.deep.equal([null, person(i)]);
      const [, joinerKeys] = await send(joiner, service, 'get', { key: null, gid: 'g3' });
      expect([...joinerKeys].sort()).to.deep.equal([...toJoiner].sort());
    }
  });
});
