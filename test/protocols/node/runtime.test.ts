/** The node runtime and groups on the real runtime: one node in this process, three child processes
 * spawned with status.spawn, talking over loopback websockets. Time only bounds the waits. */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRuntime, processBusyPoller, type Runtime } from '../../../src/runtime/index.js';
import { createNodeProgram, type GroupsLayer } from '../../../src/protocols/groups/index.js';
import { getSID, nodeIdOf, type Callback, type DistNode } from '../../../src/protocols/node/index.js';
import { tempDir, until } from '../../runtime/helpers.js';
import { codeOf } from '../helpers.js';

const self = { ip: '127.0.0.1', port: 9100 };
const children = [9101, 9102, 9103].map((port) => ({ ip: '127.0.0.1', port }));
const [a, b, c] = children as [typeof self, typeof self, typeof self];

/** The pid of this process's child running `nodeId` (its config is in its environment), from Linux /proc. */
function childPid(nodeId: string): number | undefined {
  if (!existsSync('/proc/self/environ')) return undefined;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) !== process.pid) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`"id":"${nodeId}"`)) return pid;
    } catch {
      // a process that ended while we looked
    }
  }
  return undefined;
}

/** Real processes report their own heap; passed in as an option, so protocols never read the process. */
function processHeap(): { heapTotal: number; heapUsed: number } {
  const m = process.memoryUsage();
  return { heapTotal: m.heapTotal, heapUsed: m.heapUsed };
}

describe('node runtime on real processes (loopback)', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  let runtime: Runtime;
  let layer: GroupsLayer;
  let node: DistNode;

  const call = <T = unknown>(fn: (cb: Callback) => void): Promise<[Error | null, T]> =>
    new Promise((resolve) => fn((err, value) => resolve([err, value as T])));
  const send = (message: unknown[], remote: Record<string, unknown>) =>
    call((cb) => (node.services.get('comm') as { send: Function }).send(message, remote, cb));

  before(async () => {
    dir = tempDir('node');
    runtime = await createRuntime({ nodeId: nodeIdOf(self), dataDir: join(dir.path, 'self'), seed: 'node-test' });
    layer = runtime.run(createNodeProgram, { config: self, heap: processHeap, antiEntropyMs: 0 }).inspect?.() as GroupsLayer;
    node = layer.node;
    const spawned = await Promise.all(children.map((config) => call((cb) => (node.services.get('status') as { spawn: Function }).spawn(config, cb))));
    for (const [err] of spawned) expect(err).to.equal(null);
  });

  after(async () => {
    await runtime?.close();
    dir?.remove();
  });

  it('spawned children are in all and answer status over the real network', async () => {
    expect(Object.keys(layer.table.get('all') as object).sort()).to.deep.equal([self, a, b, c].map(getSID).sort());
    expect(await send(['port'], { node: b, service: 'status', method: 'get' })).to.deep.equal([null, 9102]);
    const [err, heapTotal] = await send(['heapTotal'], { node: b, service: 'status', method: 'get' });
    expect(err).to.equal(null);
    expect(heapTotal).to.be.a('number').greaterThan(0);
  });

  it('calls keep the loop polling while their answers are owed, and not after (busy polling)', async () => {
    const spinsBefore = processBusyPoller.stats.spins;
    for (let i = 0; i < 20; i++) expect(await send(['port'], { node: a, service: 'status', method: 'get' })).to.deep.equal([null, 9101]);
    expect(processBusyPoller.stats.spins, 'calls marked as awaiting a reply start spins').to.be.greaterThan(spinsBefore);
    // Background calls (membership probes) may owe an answer for a moment: wait for a quiet instant.
    await until(() => processBusyPoller.owedAnswers === 0 && !processBusyPoller.isSpinning, undefined, 'the poller to stop');
  });

  it('comm.send between two child processes', async () => {
    // Ask a to call b: the call and its reply cross between the two children.
    const [err, value] = await send([['sid'], { node: b, service: 'status', method: 'get' }], { node: a, service: 'comm', method: 'send' });
    expect(err).to.equal(null);
    expect(value).to.equal(getSID(b));
  });

  it('a group fan-out over the three children, and the same group service on a child', async () => {
    const group = Object.fromEntries(children.map((n) => [getSID(n), n]));
    const [putErrors] = await call((cb) => (layer.servicesFor('all')?.groups as { put: Function }).put('trio', group, cb));
    expect(Object.keys(putErrors as object)).to.deep.equal([]);
    (node.services.get('groups') as { put: Function }).put('trio', group, () => undefined);
    const [errors, sids] = await call((cb) => (layer.servicesFor('trio')?.status as { get: Function }).get('sid', cb));
    expect(errors).to.deep.equal({});
    expect(sids).to.deep.equal(children.map(getSID).sort());
    // A remote group service answers its own aggregate: `(errors, values)` arrive as `(err, value)`.
    const [err, remote] = await send(['sid'], { node: c, service: 'status', method: 'get', gid: 'trio' });
    expect(err).to.deep.equal({});
    expect(remote).to.deep.equal(children.map(getSID).sort());
  });

  it('createRPC: a stub shipped to a child calls back into this process and mutates its state', async () => {
    let counter = 0;
    const stub = node.createRPC((by: number, cb: Callback) => {
      counter += by;
      cb(null, counter);
    });
    expect((await send([{ run: (s: Function, x: number, cb: Function) => s(x, cb) }, 'runner'], { node: a, service: 'routes', method: 'put' }))[0]).to.equal(null);
    expect(await send([stub, 5], { node: a, service: 'runner', method: 'run' })).to.deep.equal([null, 5]);
    expect(await send([stub, 3], { node: a, service: 'runner', method: 'run' })).to.deep.equal([null, 8]);
    expect(counter).to.equal(8);
  });

  it('a paused peer (SIGSTOP): a call to it times out, the caller keeps serving, and after SIGCONT the call it missed ran once', async function () {
    const pid = childPid(nodeIdOf(b));
    if (pid === undefined) return this.skip(); // needs Linux /proc to find the child
    expect((await send([{ bump: (cb: Function) => cb(null, (globalThis as { bumps?: number }).bumps = ((globalThis as { bumps?: number }).bumps ?? 0) + 1) }, 'counter'], { node: b, service: 'routes', method: 'put' }))[0]).to.equal(null);
    process.kill(pid, 'SIGSTOP');
    try {
      const [err] = await call((cb) => node.callRemote(b, 'counter', 'bump', [], cb, { timeoutMs: 300, idempotent: false }));
      expect(codeOf(err)).to.equal('E_NODE_TIMEOUT');
      expect(await send(['sid'], { node: a, service: 'status', method: 'get' })).to.deep.equal([null, getSID(a)]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The call waited in b's socket while it was stopped: it ran once when b resumed (not lost, not twice).
    expect(await send([], { node: b, service: 'counter', method: 'bump' })).to.deep.equal([null, 2]);
  });

  it('a dead peer mid-call gives a coded error and the caller keeps serving', async () => {
    await send([{ hang: () => undefined }, 'hang'], { node: b, service: 'routes', method: 'put' });
    const pending = call((cb) => node.callRemote(b, 'hang', 'hang', [], cb, { timeoutMs: 1_000 }));
    runtime.env.hosts.stop(nodeIdOf(b));
    const [err] = await pending;
    expect(codeOf(err)).to.be.oneOf(['E_NODE_TIMEOUT', 'E_NODE_PEER_DOWN']);
    expect(await send(['sid'], { node: a, service: 'status', method: 'get' })).to.deep.equal([null, getSID(a)]);
    const [, viaA] = await send([['sid'], { node: self, service: 'status', method: 'get' }], { node: a, service: 'comm', method: 'send' });
    expect(viaA).to.equal(getSID(self));
  });

  it('status.stop ends a child process: it answers its config, then calls to it time out', async () => {
    expect(await send([], { node: c, service: 'status', method: 'stop' })).to.deep.equal([null, c]);
    const deadlineMs = performance.now() + 10_000;
    while (node.children.has(nodeIdOf(c)) && performance.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
    expect(node.children.has(nodeIdOf(c))).to.equal(false);
    // Reaped is not yet exited: the child ends on SIGTERM and may answer until its socket closes.
    while (runtime.connections().some((conn) => conn.peer === nodeIdOf(c)) && performance.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
    const [err] = await call((cb) => node.callRemote(c, 'status', 'get', ['sid'], cb, { timeoutMs: 300, idempotent: false }));
    expect(codeOf(err)).to.equal('E_NODE_TIMEOUT');
  });
});
