/** The `kv` program on a real cluster: three node processes spawned through `hosts` (lmdb stores, SWIM
 * over loopback websockets), driven by a client node in this process through their `kv` service
 * (put, get, get(null) listing, owner). A node
 * is stopped and restarted on the same data directory: what it owned is unavailable meanwhile (coded
 * errors, no wrong answers), the rest keeps serving, and once it is back every acknowledged write reads
 * back. Time only bounds the waits. */
import { expect } from 'chai';
import type { SpawnResult } from '../../../src/env/index.js';
import { KvClient, kvClientService } from '../../../src/protocols/kv/index.js';
import { DistNode } from '../../../src/protocols/node/index.js';
import { LocalCluster, sleep } from '../../runtime/helpers.js';
import { codeOf } from '../helpers.js';

const nodes = ['n1', 'n2', 'n3'];
const keysCount = 30;
/** Fast failure detection, so a stopped node leaves every view within a few seconds. */
const membership = { probeIntervalMs: 100, ackTimeoutMs: 50, suspicionTimeoutMs: 400, gossipIntervalMs: 50, syncIntervalMs: 500 };
const kvArgs = { nodes, callTimeoutMs: 500, placement: { scheme: 'consistent', vnodes: 16 }, membership, shards: { opAttemptsMax: 3, opRetryMs: 50 } };
const settleMsMax = 15_000;
const retryPauseMs = 50;

/** Runs `attempt` until it gives a value (not undefined), pausing between tries; gives up after `settleMsMax`. */
async function eventually<T>(attempt: () => Promise<T | undefined>, what: string): Promise<T> {
  const startMs = performance.now();
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (performance.now() - startMs > settleMsMax) throw new Error(`timed out waiting for ${what}`);
    await sleep(retryPauseMs);
  }
}

describe('kv program on a real cluster (child processes)', function () {
  this.timeout(60_000);
  let cluster: LocalCluster;
  let client: DistNode;

  const kv = <T = unknown>(via: string, method: string, ...args: unknown[]): Promise<[Error | null, T]> =>
    new Promise((resolve) => client.callRemote(via, kvClientService, method, args, (err, value) => resolve([err, value as T]), { timeoutMs: 3_000 }));
  const spawn = (id: string): Promise<SpawnResult> => new Promise((resolve) => cluster.get('client').env.hosts.spawn({ id, program: 'kv', args: kvArgs }, resolve));
  /** Retries `put` through `via` until it is acknowledged: ownership settles once every holder answered. */
  const putEventually = (via: string, key: string, value: unknown): Promise<true> =>
    eventually(async () => ((await kv(via, 'put', value, key))[0] === null ? true : undefined), `put ${key} through ${via}`);

  /** Lists every key through `via` once the cluster has settled (a listing is refused while it has not). */
  const listEventually = (via: string): Promise<string[]> =>
    eventually(async () => {
      const [err, keys] = await kv<string[]>(via, 'get', null);
      if (err !== null && codeOf(err) !== 'E_KV_NOT_READY') throw err;
      return err === null ? keys : undefined;
    }, `a listing through ${via}`);

  before(async () => {
    cluster = await LocalCluster.start(['client']);
    client = cluster.get('client').run((env) => {
      const node = new DistNode(env);
      return { stop: () => node.stop(), inspect: () => node };
    }).inspect?.() as DistNode;
    const results = await Promise.all(nodes.map(spawn));
    expect(results.map((r) => r.ok)).to.deep.equal([true, true, true]);
  });
  after(async () => cluster?.close());

  it('puts through any node are read back through any other; bad keys get coded errors', async () => {
    await putEventually('n1', 'key-0', { i: 0 });
    for (let i = 1; i < keysCount; i++) await putEventually(nodes[i % 3]!, `key-${i}`, { i });
    for (let i = 0; i < keysCount; i++) expect(await kv(nodes[(i + 1) % 3]!, 'get', `key-${i}`)).to.deep.equal([null, { i }]);
    const [missing] = await kv('n2', 'get', 'no-such-key');
    expect(codeOf(missing)).to.equal('E_KV_NOT_FOUND');
    const [badKey] = await kv('n3', 'get', 42);
    expect(codeOf(badKey)).to.equal('E_KV_BAD_KEY');
    // A null key is the value's id, as in the course's put; get(null) lists every key served.
    const [err, stored] = await kv('n1', 'put', 'by-id', null);
    expect([err, stored]).to.deep.equal([null, 'by-id']);
    const keys = await listEventually('n2');
    expect(keys).to.have.length(keysCount + 1);
    expect(keys).to.include.members(Array.from({ length: keysCount }, (_, i) => `key-${i}`));
    expect(keys).to.deep.equal([...keys!].sort());
  });

  it('KvClient routes each call straight to the owner its view names, and lists', async () => {
    const kvClient = new KvClient(client, ['n9', 'n2'], { timeoutMs: 1_000 }); // n9 does not exist: the next seed answers
    for (let i = 0; i < keysCount; i++) {
      const owner = await kvClient.ownerOf(`key-${i}`);
      expect(await kv('n1', 'owner', `key-${i}`)).to.deep.equal([null, owner]);
    }
    expect(await kvClient.put('client-key', { via: 'client' })).to.deep.equal({ via: 'client' });
    expect(await kvClient.get('client-key')).to.deep.equal({ via: 'client' });
    expect(await kvClient.append('client-list', 1)).to.deep.equal([1]);
    expect(await kvClient.append('client-list', 2)).to.deep.equal([1, 2]);
    expect(await kvClient.get('key-3')).to.deep.equal({ i: 3 });
    expect(await kvClient.keys()).to.include.members(['client-key', 'client-list', 'key-0']);
    expect(await kvClient.del('client-list')).to.deep.equal([1, 2]);
    const missing = await kvClient.get('client-list').then(() => null, (err: unknown) => err);
    expect(codeOf(missing)).to.equal('E_KV_NOT_FOUND');
    await kvClient.del('client-key');
  });

  it('a stopped node: its keys are refused with codes, the rest serve; back on its disk, nothing is lost', async () => {
    const owners = await Promise.all(Array.from({ length: keysCount }, (_, i) => kv<string>('n1', 'owner', `key-${i}`)));
    const ownedBy3 = owners.flatMap(([, owner], i) => (owner === 'n3' ? [i] : []));
    const others = owners.flatMap(([, owner], i) => (owner !== 'n3' ? [i] : []));
    expect(ownedBy3.length, 'some keys live on n3').to.be.greaterThan(0);
    expect(others.length, 'some keys live elsewhere').to.be.greaterThan(0);

    const watched = `key-${ownedBy3[0]}`;
    cluster.get('client').env.hosts.stop('n3');
    // Failure detection removes n3 from n1's view: the key's owner is then another node, which cannot
    // settle without n3's records, so it refuses the key (never answers "not found"); keys whose owner
    // did not change keep serving.
    const ownerWhileDown = await eventually(async () => {
      const [, owner] = await kv<string>('n1', 'owner', watched);
      return owner !== 'n3' ? owner : undefined;
    }, 'n1 to see n3 gone');
    expect(['n1', 'n2']).to.include(ownerWhileDown);
    const [refused] = await kv('n1', 'get', watched);
    expect(['E_KV_NOT_READY', 'E_KV_NOT_OWNER']).to.include(codeOf(refused));
    const [incomplete] = await kv('n1', 'get', null); // a listing without n3's keys would look complete
    expect(codeOf(incomplete)).to.equal('E_KV_NOT_READY');
    for (const i of others) {
      await putEventually(nodes[i % 2]!, `key-${i}`, { i, during: true });
      expect(await kv('n2', 'get', `key-${i}`)).to.deep.equal([null, { i, during: true }]);
    }

    expect((await spawn('n3')).ok).to.equal(true);
    await eventually(async () => ((await kv<string>('n1', 'owner', watched))[1] === 'n3' ? true : undefined), 'n1 to see n3 back');
    for (const i of ownedBy3) {
      const value = await eventually(async () => {
        const [err, v] = await kv('n1', 'get', `key-${i}`);
        return err === null ? v : undefined;
      }, `key-${i} readable again`);
      expect(value).to.deep.equal({ i });
    }
    for (const i of others) expect(await kv('n3', 'get', `key-${i}`)).to.deep.equal([null, { i, during: true }]);
    expect(await listEventually('n3')).to.have.length(keysCount + 1);
  });
});
