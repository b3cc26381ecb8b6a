import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import type { SpawnResult } from '../../src/env/index.js';
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
