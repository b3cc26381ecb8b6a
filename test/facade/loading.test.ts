/**
 * Loading the facade as course code does (CommonJS `require`, plain Node and a Jest-27-like resolution),
 * `bootstrap`, `bootstrap.main`, `node.*` and `util`.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundlePath, call, closeNode, freePort, packageRoot, rawRequest, requireFacade, runToExit, startNode, startProcess,
  type Distribution,
} from './helpers.js';

const jestBin = join(packageRoot, 'node_modules', 'jest', 'bin', 'jest.js');
/** A Jest run in a child process gives up after this long. */
const jestRunMsMax = 40_000;

/** A course-style Jest test: CommonJS, the global, a service called over the node's own HTTP server. */
function jestCourseTest(port: number): string {
  return `
const bootstrap = require('distribution/distribution');
test('the facade loads under Jest and a node answers', (done) => {
  const distribution = bootstrap({ip: '127.0.0.1', port: ${port}});
  expect(globalThis.distribution).toBe(distribution);
  // Jest's console.log is not Node's: serializing it walks every built-in module (sys, wasi, ...).
  expect(typeof distribution.util.serialize(console.log)).toBe('string');
  distribution.node.start((e) => {
    expect(e).toBeFalsy();
    const remote = {node: distribution.node.config, service: 'status', method: 'get'};
    distribution.local.comm.send(['sid'], remote, (e, v) => {
      distribution.node.server.close();
      expect(e).toBeNull();
      expect(v).toBe(distribution.util.id.getSID(distribution.node.config));
      done();
    });
  });
});
`;
}

describe('facade: loading and bootstrap', function () {
  this.timeout(20_000);
  let distribution: Distribution | undefined;

  after(() => closeNode(distribution));

  it("require('distribution/distribution') gives a function with .main, from CommonJS", () => {
    const bootstrap = requireFacade();
    expect(bootstrap).to.be.a('function');
    expect(bootstrap.main).to.be.a('function');
  });

  it('the bundle is CommonJS all the way down and loads by folder path (no exports map, as Jest 27 resolves)', () => {
    const folderPackage = JSON.parse(readFileSync(join(packageRoot, 'distribution', 'package.json'), 'utf8')) as { type: string; main: string };
    expect(folderPackage.type).to.equal('commonjs');
    expect(existsSync(join(packageRoot, 'distribution', folderPackage.main))).to.equal(true);
    const source = readFileSync(bundlePath, 'utf8');
    expect(source).not.to.match(/^\s*(import|export)\s/m);
    expect(source).not.to.match(/\bimport\.meta\b/);
    // Only Node built-ins are required at run time: nothing from node_modules that might be ESM.
    const required = [...source.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required).to.include('http');
    for (const name of required) expect(builtinModules, name).to.include((name as string).replace(/^node:/, ''));
    const byPath = createRequire(join(packageRoot, 'test-consumer.js'))('./distribution');
    expect(byPath).to.equal(requireFacade());
  });

  it('bootstrap() with no config uses the default node (SID 8cf1b) and sets globalThis.distribution', () => {
    const d = requireFacade()();
    expect(d.node.config).to.deep.include({ ip: '127.0.0.1', port: 1234 });
    expect(d.util.id.getSID(d.node.config)).to.equal('8cf1b');
    expect((globalThis as { distribution?: unknown }).distribution).to.equal(d);
    expect(d.node.server).to.equal(undefined);
  });

  it('bootstrap(config) returns the object with util, local, node, all; services are the routes ones', async () => {
    distribution = await startNode(requireFacade());
    const d = distribution;
    expect(Object.keys(d)).to.include.members(['util', 'local', 'node', 'all']);
    expect(Object.keys(d.local)).to.include.members(['status', 'routes', 'comm', 'groups', 'gossip', 'mem', 'store']);
    const [err, status] = await call(d.local.routes, 'get', 'status');
    expect(err).to.equal(null);
    expect(status).to.equal(d.local.status);
    expect(d.node.server?.listening).to.equal(true);
  });

  it('service methods replaced in place are what local and remote callers reach', async () => {
    const d = distribution as Distribution;
    const status = d.local.status as Record<string, unknown>;
    const original = status['get'];
    status['get'] = (key: unknown, cb: (e: unknown, v: unknown) => void) => cb(null, `wrapped ${String(key)}`);
    try {
      const [err, value] = await call(d.local.comm, 'send', ['sid'], { node: d.node.config, service: 'status', method: 'get' });
      expect(err).to.equal(null);
      expect(value).to.equal('wrapped sid');
    } finally {
      status['get'] = original;
    }
  });

  it('node.start refuses a second start and a port in use, with error-first callbacks', async () => {
    const d = distribution as Distribution;
    const again = await new Promise<Error | null>((resolve) => d.node.start((err) => resolve(err)));
    expect((again as { code?: string }).code).to.equal('E_FACADE_STARTED');
    const other = requireFacade()({ ip: '127.0.0.1', port: d.node.config.port });
    const inUse = await new Promise<Error | null>((resolve) => other.node.start((err) => resolve(err)));
    expect((inUse as { code?: string }).code).to.equal('EADDRINUSE');
  });

  it('protected mode: a node bound beyond loopback needs a cluster secret', async () => {
    const d = requireFacade()({ ip: '0.0.0.0', port: await freePort() });
    const err = await new Promise<Error | null>((resolve) => d.node.start((e) => resolve(e)));
    expect((err as { code?: string }).code).to.equal('E_RUNTIME_PROTECTED');
  });

  it('util: serialize/deserialize speak the course format; ids and hashes; toAsync keeps its source', async () => {
    const { util } = distribution as Distribution;
    expect(util.serialize(1)).to.equal('{"type":"number","value":"1"}');
    const o: Record<string, unknown> = { a: [1, 'x'] };
    o['self'] = o;
    const back = util.deserialize(util.serialize(o)) as Record<string, unknown>;
    expect(back['self']).to.equal(back);
    expect(util.id.getNID({ ip: '127.0.0.1', port: 1234 })).to.equal(util.id.getID({ ip: '127.0.0.1', port: 1234 }));
    expect(util.id.getMID({ m: 1 })).to.not.equal(util.id.getMID({ m: 1 }));
    const nids = ['a1', 'b2', 'c3'].map((x) => util.id.getID(x));
    const kid = util.id.getID('key');
    for (const hash of [util.id.naiveHash, util.id.consistentHash, util.id.rendezvousHash]) expect(nids).to.include(hash(kid, nids));
    const add = (a: number, b: number): number => a + b;
    const asyncAdd = util.wire.toAsync(add);
    expect(asyncAdd.toString()).to.equal(add.toString());
    const [err, sum] = await new Promise<[unknown, unknown]>((resolve) => asyncAdd(2, 3, (e: unknown, v: unknown) => resolve([e, v])));
    expect(err).to.equal(null);
    expect(sum).to.equal(5);
  });

  it('util.wire.createRPC: the stub survives serialization and runs on the creator, mutating its state', async () => {
    const d = distribution as Distribution;
    let counter = 0;
    const stub = d.util.wire.createRPC((by: number, cb: (e: unknown, v: unknown) => void) => cb(null, (counter += by)));
    const shipped = d.util.deserialize(d.util.serialize(stub)) as (...args: unknown[]) => void;
    const value = await new Promise((resolve) => shipped(5, (_e: unknown, v: unknown) => resolve(v)));
    expect(value).to.equal(5);
    expect(counter).to.equal(5);
  });

  it('bootstrap.main: --ip/--port flags start a node that answers PUTs', async () => {
    const port = await freePort();
    const proc = await startProcess(bundlePath, ['--ip', '127.0.0.1', '--port', String(port)], port);
    try {
      const reply = await rawRequest(port, 'PUT', '/local/status/get', (distribution as Distribution).util.serialize(['port']));
      expect((distribution as Distribution).util.deserialize(reply.body)).to.deep.equal([null, port]);
    } finally {
      await proc.stop();
    }
  });

  it('bootstrap.main: a config that neither deserializes nor parses as JSON prints an error and exits 1', async () => {
    const result = await runToExit(process.execPath, [bundlePath, '--config', '{not json'], 10_000);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/config/);
  });

  it('under Jest 27 (CommonJS only, no exports map) a course test loads the facade and calls a service', async function () {
    if (!existsSync(jestBin)) return this.skip();
    this.timeout(jestRunMsMax + 5_000);
    // A course project: the package installed as node_modules/distribution, one Jest test file.
    const project = mkdtempSync(join(tmpdir(), 'distribution-jest-'));
    try {
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(packageRoot, join(project, 'node_modules', 'distribution'), 'dir');
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'course-project', private: true }));
      writeFileSync(join(project, 'facade.test.js'), jestCourseTest(await freePort()));
      const result = await runToExit(process.execPath, [jestBin, '--rootDir', project, '--ci', '--watchman=false'], jestRunMsMax, project);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/1 passed/);
      // The walk over built-in modules stays quiet under Jest too (its `process` is a copy).
      expect(result.stderr).to.not.match(/DeprecationWarning|ExperimentalWarning/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
