/**
 * What the course's own test suites caught (docs/facade.md, "Course test suites"): each test here pins
 * one COURSE-API row where the facade behaved differently from the course's reference implementation
 * when those suites ran against it. Written for this project; no course code is copied.
 */
import { expect } from 'chai';
import { bundlePath, call, closeNode, freePort, rawRequest, requireFacade, runToExit, startNode, type Distribution } from './helpers.js';

/** A child process that throws from a comm.send callback, the answer coming from `peer`: our own node
 * (over ws) or a plain HTTP server answering as a course node does (over PUT). */
function throwingCallbackScript(peer: 'self' | 'course'): string {
  return `
const http = require('node:http');
const d = require(${JSON.stringify(bundlePath)})({ip: '127.0.0.1', port: Number(process.argv[1])});
const course = http.createServer((req, res) => req.resume().on('end', () => res.end(d.util.serialize([null, 42]))));
course.listen(Number(process.argv[2]), '127.0.0.1', () => d.node.start(() => {
  const node = ${peer === 'self' ? 'd.node.config' : "{ip: '127.0.0.1', port: Number(process.argv[2])}"};
  d.local.comm.send(['sid'], {node, service: 'status', method: 'get'}, () => {
    throw new Error('thrown-by-the-callback');
  });
}));
setTimeout(() => process.exit(3), 5000).unref();
`;
}

type Node = { ip: string; port: number };
type Services = Record<string, unknown>;

describe('facade: behaviour the course test suites check', function () {
  this.timeout(30_000);
  let d: Distribution;
  const spawned: Node[] = [];
  const sid = (node: Node): string => d.util.id.getSID(node);
  const group = (gid: string, service: string): unknown => (d[gid] as Services)[service];

  before(async () => {
    d = await startNode(requireFacade());
  });

  after(async () => {
    for (const node of spawned) await call(d.local.comm, 'send', [], { node, service: 'status', method: 'stop' });
    await closeNode(d);
  });

  const spawn = async (): Promise<Node> => {
    const node = { ip: '127.0.0.1', port: await freePort() };
    const [err] = await call(d.local.status, 'spawn', node);
    expect(err).to.equal(null);
    spawned.push(node);
    return node;
  };

  it('wire: a non-PUT request answers a serialized Error saying "Method not allowed"', async () => {
    const reply = await rawRequest(d.node.config.port, 'GET', '/local/status/get');
    const err = d.util.deserialize(reply.body) as Error;
    expect(err).to.be.instanceOf(Error);
    expect(err.message).to.match(/Method not allowed/i);
  });

  it('groups.put keeps the keys it is given, even ones that are not their node\'s SID', async () => {
    const named = { a0001: { ip: '127.0.0.1', port: 8080 }, b0002: { ip: '127.0.0.1', port: 8081 } };
    expect(await call(d.local.groups, 'put', 'named', named)).to.deep.equal([null, named]);
    expect(await call(d.local.groups, 'get', 'named')).to.deep.equal([null, named]);
    await call(d.local.groups, 'rem', 'named', 'a0001');
    expect((await call(d.local.groups, 'get', 'named'))[1]).to.deep.equal({ b0002: named.b0002 });
  });

  it('group comm.send of a bad message or remote: that error under every member SID, values {}', async () => {
    const members = { [sid(d.node.config)]: d.node.config, a0001: { ip: '127.0.0.1', port: 8080 } };
    await call(d.local.groups, 'put', 'bad', members);
    for (const [message, remote] of [[[], { method: 'get' }], [[], { service: 'status' }], ['not-an-array', { service: 'status', method: 'get' }], [undefined, { service: 'status', method: 'get' }]]) {
      const [errors, values] = await call(group('bad', 'comm'), 'send', message, remote);
      expect(Object.keys(errors).sort()).to.deep.equal(Object.keys(members).sort());
      for (const err of Object.values(errors)) expect(err).to.be.instanceOf(Error);
      expect(values).to.deep.equal({});
    }
  });

  it('a group with no members: one Error and no value', async () => {
    await call(d.local.groups, 'put', { gid: 'none' }, {});
    const [err, value] = await call(group('none', 'comm'), 'send', [], { service: 'status', method: 'get' });
    expect(err).to.be.instanceOf(Error);
    expect(value).to.equal(undefined);
  });

  it('node.start works again after node.server.close, in the same process', async () => {
    const { port } = d.node.config;
    for (let round = 0; round < 2; round++) {
      await new Promise((resolve) => d.node.server!.close(resolve));
      await new Promise<void>((resolve, reject) => d.node.start((err) => (err ? reject(err) : resolve())));
      expect(await call(d.local.comm, 'send', ['port'], { node: d.node.config, service: 'status', method: 'get' })).to.deep.equal([null, port]);
    }
  });

  it('status.stop: a call sent right after its answer fails with a plain Error', async () => {
    const node = await spawn();
    const [err, config] = await call(d.local.comm, 'send', [], { node, service: 'status', method: 'stop' });
    expect(err).to.equal(null);
    expect(config).to.deep.include(node);
    const [after, value] = await call(d.local.comm, 'send', ['nid'], { node, service: 'status', method: 'get' });
    expect(after.constructor).to.equal(Error);
    expect(value).to.equal(undefined);
  });

  for (const peer of ['self', 'course'] as const) {
    it(`what a comm.send callback throws is an uncaught exception, not swallowed (answer from ${peer === 'self' ? 'our node, ws' : 'a course node, PUT'})`, async () => {
      const result = await runToExit(process.execPath, ['-e', throwingCallbackScript(peer), String(await freePort()), String(await freePort())], 10_000);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.match(/thrown-by-the-callback/);
    });
  }

  it('mr.exec runs on a group of spawned facade nodes (every node has the mr worker)', async () => {
    const n1 = await spawn();
    const n2 = await spawn();
    const members = { [sid(n1)]: n1, [sid(n2)]: n2 };
    await call(d.local.groups, 'put', { gid: 'words' }, members);
    expect((await call(group('words', 'groups'), 'put', { gid: 'words' }, members))[0]).to.deep.equal({});
    const lines: Record<string, string> = { l1: 'a b a', l2: 'b c', l3: 'a' };
    for (const [key, line] of Object.entries(lines)) expect((await call(group('words', 'store'), 'put', line, key))[0]).to.equal(null);
    const spec = {
      keys: Object.keys(lines),
      map: (_key: string, line: string) => line.split(' ').map((w) => ({ [w]: 1 })),
      reduce: (word: string, counts: number[]) => ({ [word]: counts.reduce((a, b) => a + b, 0) }),
    };
    const [err, results] = await call(group('words', 'mr'), 'exec', spec);
    expect(err).to.equal(null);
    expect([...(results as object[])].sort((x, y) => Object.keys(x)[0]!.localeCompare(Object.keys(y)[0]!))).to.deep.equal([{ a: 3 }, { b: 2 }, { c: 1 }]);
  });
});
