import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { SpawnResult } from '../../src/env/index.js';
import { nodeMainPath } from '../../src/runtime/index.js';
import { LocalCluster, until } from './helpers.js';

const testPrograms = fileURLToPath(new URL('./test-programs.js', import.meta.url));

describe('runtime hosts (child processes)', function () {
  this.timeout(30_000);
  let cluster: LocalCluster;

  beforeEach(async () => {
    cluster = await LocalCluster.start(['parent'], { programModules: [testPrograms] });
  });
  afterEach(async () => cluster.close());

  function spawn(id: string, program: string): Promise<SpawnResult> {
    return new Promise((resolve) => cluster.get('parent').env.hosts.spawn({ id, program, args: { greeting: 'hi' } }, resolve));
  }

  it('spawns a child running a registered program, talks to it, and stops it', async () => {
    const parent = cluster.get('parent');
    const replies: string[] = [];
    parent.env.net.listen('echo-reply', (from, payload) => replies.push(`${from}:${Buffer.from(payload).toString()}`));
    const result = await spawn('child1', 'test-echo');
    expect(result).to.deep.equal({ ok: true, id: 'child1' });
    expect(parent.directory.has('child1')).to.equal(true);
    parent.env.net.send('child1', 'echo', Buffer.from('ping'));
    await until(() => replies.length === 1, undefined, 'echo from the child');
    expect(replies).to.deep.equal(['child1:hi ping']);
    parent.env.hosts.stop('child1');
    expect(parent.directory.has('child1')).to.equal(false);
    // The same id can be spawned again once stopped.
    const again = await spawn('child1', 'test-echo');
    expect(again.ok).to.equal(true);
  });

  it('reports an unknown program with a coded error', async () => {
    const result = await spawn('child2', 'no-such-program');
    expect(result.ok).to.equal(false);
    if (!result.ok) expect(result.error.code).to.equal('E_UNKNOWN_PROGRAM');
  });

  it('refuses a duplicate id', async () => {
    expect((await spawn('child3', 'test-echo')).ok).to.equal(true);
    const duplicate = await spawn('child3', 'test-echo');
    expect(duplicate.ok === false && duplicate.error.code).to.equal('E_NODE_EXISTS');
  });
});

describe('runtime hosts: the node entry', function () {
  this.timeout(30_000);

  it('is the one-file bundle without extra program modules, the module graph with them', () => {
    expect(nodeMainPath()).to.match(/node-main\.bundle\.mjs$/);
    expect(nodeMainPath([testPrograms])).to.match(/node-main\.js$/);
  });

  it('a node started from the bundle runs a built-in program and answers', async () => {
    const cluster = await LocalCluster.start(['parent']);
    try {
      const parent = cluster.get('parent');
      const pongs: string[] = [];
      parent.env.net.listen('pong', (from, payload) => pongs.push(`${from}:${Buffer.from(payload).toString()}`));
      const result = await new Promise<SpawnResult>((resolve) => parent.env.hosts.spawn({ id: 'bundled', program: 'ping', args: { peers: [] } }, resolve));
      expect(result).to.deep.equal({ ok: true, id: 'bundled' });
      parent.env.net.send('bundled', 'ping', Buffer.from('abcd'));
      await until(() => pongs.length === 1, undefined, 'a pong from the bundled node');
      expect(pongs).to.deep.equal(['bundled:abcd']);
      parent.env.hosts.stop('bundled');
    } finally {
      await cluster.close();
    }
  });
});
