import { expect } from 'chai';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeBatch, HeaderCache } from '../../src/runtime/frame.js';
import { connectionToken, type Runtime } from '../../src/runtime/index.js';
import { encode } from '../../src/serialize/index.js';
import { hasCode } from '../../src/lib/errors.js';
import { LocalCluster, sleep, until } from './helpers.js';

/** Opens a raw ws connection to `target` pretending to be node `from`, as an attacker or a buggy peer would. */
function rawPeer(target: Runtime, from: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${target.address.port}/distribution/1`, {
    headers: { 'x-distribution-from': from, 'x-distribution-to': target.env.nodeId, ...headers },
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(-1);
    else ws.once('close', (code) => resolve(code));
  });
}

function frame(from: string, channel: string, payload: Uint8Array): Buffer {
  const header = encode([from, channel]);
  const out = Buffer.alloc(8 + header.length + payload.length);
  out.writeUInt32BE(header.length, 0);
  out.set(header, 4);
  out.writeUInt32BE(payload.length, 4 + header.length);
  out.set(payload, 8 + header.length);
  return out;
}

describe('runtime transport (real ws on loopback)', function () {
  let cluster: LocalCluster;
  const inbox: string[] = [];

  beforeEach(async () => {
    inbox.length = 0;
    cluster = await LocalCluster.start(['n1', 'n2', 'n3'], { net: { payloadBytesMax: 64 * 1024 } });
    for (const runtime of cluster.runtimes.values()) {
      const self = runtime.env.nodeId;
      runtime.env.net.listen('chat', (from, payload) => inbox.push(`${from}->${self}:${Buffer.from(payload).toString()}`));
    }
  });

  afterEach(async () => cluster.close());

  it('a 3-node cluster exchanges messages both ways over one connection per pair', async () => {
    const ids = ['n1', 'n2', 'n3'];
    for (const from of ids) for (const to of ids) if (from !== to) cluster.get(from).env.net.send(to, 'chat', Buffer.from(`hello ${to}`));
    await until(() => inbox.length === 6, undefined, 'six messages');
    expect([...inbox].sort()).to.deep.equal([
      'n1->n2:hello n2', 'n1->n3:hello n3', 'n2->n1:hello n1', 'n2->n3:hello n3', 'n3->n1:hello n1', 'n3->n2:hello n2',
    ]);
    for (const runtime of cluster.runtimes.values()) expect(runtime.netStats().badFrames).to.equal(0);
  });

  it('simultaneous dials settle on one connection per pair, the one dialed by the lower id', async () => {
    const ids = ['n1', 'n2', 'n3'];
    // Everyone sends to everyone in the same tick, so every pair dials both ways at once.
    for (const from of ids) for (const to of ids) if (from !== to) cluster.get(from).env.net.send(to, 'chat', Buffer.from('x'));
    await until(() => inbox.length === 6 && ids.every((id) => !(cluster.get(id).env.net as unknown as { dialing: boolean }).dialing), undefined, 'settled');
    for (const a of ids) {
      const seen = cluster.get(a).connections();
      expect(seen.map((c) => c.peer)).to.deep.equal(ids.filter((id) => id !== a));
      for (const { peer, direction } of seen) {
        const mirror = cluster.get(peer).connections().find((c) => c.peer === a);
        expect(mirror?.direction).to.equal(direction === 'out' ? 'in' : 'out');
        expect(direction).to.equal(a < peer ? 'out' : 'in');
      }
    }
  });

  it('keeps per-connection order for a burst and coalesces it into few ws messages', async () => {
    const got: number[] = [];
    cluster.get('n2').env.net.listen('seq', (_from, payload) => got.push(new DataView(payload.buffer, payload.byteOffset).getUint32(0)));
    const count = 5_000;
    const payload = new Uint8Array(4);
    for (let i = 0; i < count; i++) {
      new DataView(payload.buffer).setUint32(0, i); // reusing the buffer is allowed: send copies
      cluster.get('n1').env.net.send('n2', 'seq', payload);
    }
    await until(() => got.length === count, undefined, 'burst delivered');
    expect(got).to.deep.equal(Array.from({ length: count }, (_, i) => i));
    expect(cluster.get('n1').netStats().batchesSent).to.be.lessThan(count / 10);
  });

  it('refuses payloads over payloadBytesMax with E_NET_TOO_LARGE', () => {
    const net = cluster.get('n1').env.net;
    expect(net.payloadBytesMax).to.equal(64 * 1024);
    let error: unknown;
    try {
      net.send('n2', 'chat', new Uint8Array(net.payloadBytesMax + 1));
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'E_NET_TOO_LARGE')).to.equal(true);
    expect(() => net.send('n2', 'chat', new Uint8Array(net.payloadBytesMax))).not.to.throw();
  });

  it('delivers to self asynchronously, as a copy', async () => {
    const net = cluster.get('n1').env.net;
    const payload = Buffer.from('me');
    net.send('n1', 'chat', payload);
    payload[0] = 0x58; // mutation after send must not show
    expect(inbox).to.deep.equal([]);
    await until(() => inbox.length === 1);
    expect(inbox).to.deep.equal(['n1->n1:me']);
  });

  it('drops and counts sends to unknown nodes and to channels nobody listens on', async () => {
    cluster.get('n1').env.net.send('nobody', 'chat', Buffer.from('x'));
    expect(cluster.get('n1').netStats().dropsUnknownPeer).to.equal(1);
    cluster.get('n1').env.net.send('n2', 'deaf', Buffer.from('x'));
    cluster.get('n1').env.net.send('n2', 'chat', Buffer.from('after'));
    await until(() => inbox.length === 1);
    expect(cluster.get('n2').netStats().dropsNoListener).to.equal(1);
  });

  it('a throwing handler is counted and the connection keeps serving', async () => {
    cluster.get('n2').env.net.listen('boom', () => {
      throw new Error('handler bug');
    });
    cluster.get('n1').env.net.send('n2', 'boom', Buffer.from('x'));
    cluster.get('n1').env.net.send('n2', 'chat', Buffer.from('still here'));
    await until(() => inbox.length === 1);
    expect(cluster.get('n2').netStats().handlerErrors).to.equal(1);
  });

  for (const [name, bytes] of [
    ['garbage bytes', () => Buffer.from([1, 2, 3])],
    ['a header length over the bound', () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0])],
    ['an undecodable header', () => Buffer.from([0, 0, 0, 3, 0xee, 0xee, 0xee, 0, 0, 0, 0])],
    ['a header that is not [from, channel]', () => { const h = encode({ a: 1 }); const b = Buffer.alloc(8 + h.length); b.writeUInt32BE(h.length); b.set(h, 4); return b; }],
    ['a truncated payload', () => frame('mallory', 'chat', Buffer.from('hello')).subarray(0, -2)],
    ['a frame claiming another sender', () => frame('n3', 'chat', Buffer.from('spoof'))],
    ['a declared payload over payloadBytesMax', () => { const f = frame('mallory', 'chat', Buffer.from('x')); f.writeUInt32BE(1 << 30, f.length - 5); return f; }],
  ] as const) {
    it(`closes only the offending connection on ${name}; the node keeps serving others`, async () => {
      const victim = cluster.get('n2');
      const attacker = await rawPeer(victim, 'mallory');
      const good = frame('mallory', 'chat', Buffer.from('legit'));
      attacker.send(Buffer.concat([good, bytes()]));
      expect(await closed(attacker)).to.equal(1007);
      expect(victim.netStats().badFrames).to.equal(1);
      expect(inbox).to.deep.equal(['mallory->n2:legit']); // frames before the bad one were delivered
      cluster.get('n1').env.net.send('n2', 'chat', Buffer.from('ok'));
      cluster.get('n2').env.net.send('n3', 'chat', Buffer.from('ok'));
      await until(() => inbox.length === 3, undefined, 'others still served');
    });
  }

  it('closes a connection that sends a text message', async () => {
    const attacker = await rawPeer(cluster.get('n2'), 'mallory');
    attacker.send('hello');
    expect(await closed(attacker)).to.equal(1007);
  });

  it('closes a connection that sends an oversized ws message (maxPayload) and keeps serving', async () => {
    const victim = cluster.get('n2');
    const attacker = await rawPeer(victim, 'mallory');
    attacker.send(Buffer.alloc(8 * 1024 * 1024));
    expect(await closed(attacker)).to.equal(1009);
    cluster.get('n3').env.net.send('n2', 'chat', Buffer.from('fine'));
    await until(() => inbox.length === 1);
    expect(victim.netStats().badFrames).to.equal(1);
  });

  it('refuses an upgrade to the wrong node id or path', async () => {
    const target = cluster.get('n2');
    const wrong = new WebSocket(`ws://127.0.0.1:${target.address.port}/distribution/1`, {
      headers: { 'x-distribution-from': 'mallory', 'x-distribution-to': 'n9' },
    });
    const error = await new Promise<Error>((resolve) => wrong.once('error', resolve));
    expect(error.message).to.match(/421/);
    expect(target.netStats().connectionsRefused).to.equal(1);
  });

  it('queues while a peer restarts, reconnects, and delivers', async () => {
    const dataDir = cluster.get('n3').config.dataDir;
    const port = cluster.get('n3').address.port;
    await cluster.get('n3').close();
    cluster.runtimes.delete('n3');
    cluster.get('n1').env.net.send('n3', 'chat', Buffer.from('while down'));
    await sleep(30);
    const restarted = await cluster.add('n3', { dataDir, listen: { port } });
    restarted.env.net.listen('chat', (from, payload) => inbox.push(`${from}->n3:${Buffer.from(payload).toString()}`));
    await until(() => inbox.includes('n1->n3:while down'), undefined, 'delivery after restart');
  });

  it('drops the queue for a peer that stays down after reconnectAttemptsMax dials', async () => {
    const local = await LocalCluster.start(['a'], { net: { reconnectAttemptsMax: 2, reconnectDelayMsMin: 1, reconnectDelayMsMax: 2 } });
    try {
      local.get('a').directory.set('gone', { host: '127.0.0.1', port: 1 }); // nothing listens on port 1
      for (let i = 0; i < 3; i++) local.get('a').env.net.send('gone', 'chat', Buffer.from('x'));
      await until(() => local.get('a').netStats().dropsPeerDown === 3, undefined, 'queue dropped');
      expect(local.get('a').netStats().dialFailures).to.equal(2);
    } finally {
      await local.close();
    }
  });

  it('bounds the queue for an unreachable peer', async () => {
    const local = await LocalCluster.start(['a'], { net: { peerQueueFramesMax: 10 } });
    try {
      local.get('a').directory.set('slow', { host: '127.0.0.1', port: 1 });
      for (let i = 0; i < 25; i++) local.get('a').env.net.send('slow', 'chat', Buffer.from('x'));
      expect(local.get('a').netStats().dropsQueueFull).to.equal(15);
    } finally {
      await local.close();
    }
  });
});

describe('runtime transport backpressure', function () {
  it('a peer that stops reading fills the socket, then the bounded queue (drops counted); all else arrives once it reads again', async () => {
    const sink = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => sink.once('listening', resolve));
    let sinkSocket: { pause(): void; resume(): void } | undefined;
    let received = 0;
    sink.on('connection', (ws) => {
      sinkSocket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      sinkSocket.pause();
      ws.on('message', (data: Buffer) => {
        decodeBatch(data, { headerBytesMax: 1024, payloadBytesMax: 1 << 20 }, new HeaderCache(), () => {
          received++;
          return undefined;
        });
      });
    });
    const local = await LocalCluster.start(['a'], { net: { socketBufferedBytesHigh: 64 * 1024, peerQueueFramesMax: 64 } });
    try {
      local.get('a').directory.set('sink', { host: '127.0.0.1', port: (sink.address() as { port: number }).port });
      const payload = new Uint8Array(16 * 1024);
      const total = 2_000;
      for (let sent = 0; sent < total; sent += 50) {
        for (let i = 0; i < 50; i++) local.get('a').env.net.send('sink', 'bulk', payload);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const drops = local.get('a').netStats().dropsQueueFull;
      expect(drops).to.be.above(0);
      sinkSocket!.resume();
      await until(() => received === total - drops, undefined, 'everything not dropped to arrive');
    } finally {
      await local.close();
      sink.close();
    }
  });
});

describe('runtime transport heartbeats', function () {
  let cluster: LocalCluster;
  beforeEach(async () => {
    cluster = await LocalCluster.start(['h1', 'h2'], { net: { heartbeatIntervalMs: 40 } });
  });
  afterEach(async () => cluster.close());

  it('keeps a healthy idle connection across many heartbeats', async () => {
    let got = 0;
    cluster.get('h2').env.net.listen('chat', () => got++);
    cluster.get('h1').env.net.send('h2', 'chat', Buffer.from('x'));
    await until(() => got === 1);
    const dials = cluster.get('h1').netStats().dials + cluster.get('h2').netStats().dials;
    await sleep(300);
    expect(cluster.get('h1').connections()).to.deep.equal([{ peer: 'h2', direction: 'out' }]);
    expect(cluster.get('h1').netStats().dials + cluster.get('h2').netStats().dials).to.equal(dials);
  });

  it('drops a connection whose peer stops answering pings', async () => {
    const silent = new WebSocket(`ws://127.0.0.1:${cluster.get('h2').address.port}/distribution/1`, {
      headers: { 'x-distribution-from': 'zombie', 'x-distribution-to': 'h2' },
      autoPong: false,
    });
    await new Promise((resolve) => silent.once('open', resolve));
    expect(cluster.get('h2').connections().map((c) => c.peer)).to.include('zombie');
    await closed(silent);
    expect(cluster.get('h2').connections().map((c) => c.peer)).to.not.include('zombie');
  });
});

describe('runtime protected mode (secret on loopback)', function () {
  let cluster: LocalCluster;
  const secret = 'correct horse battery staple';

  beforeEach(async () => {
    cluster = await LocalCluster.start(['s1', 's2'], { secret });
  });
  afterEach(async () => cluster.close());

  it('nodes sharing the secret talk', async () => {
    let got = '';
    cluster.get('s2').env.net.listen('chat', (_from, payload) => (got = Buffer.from(payload).toString()));
    cluster.get('s1').env.net.send('s2', 'chat', Buffer.from('authenticated'));
    await until(() => got === 'authenticated');
  });

  it('refuses a connection without the secret, with a wrong, stolen, stale or replayed token', async () => {
    const target = cluster.get('s2');
    const refusal = (headers: Record<string, string>, from = 'mallory'): Promise<string | undefined> =>
      rawPeer(target, from, headers).then(
        (ws) => {
          ws.terminate();
          return undefined;
        },
        (e: Error) => e.message,
      );
    expect(await refusal({})).to.match(/401/);
    expect(await refusal({ 'x-distribution-auth': 'garbage' })).to.match(/401/);
    expect(await refusal({ 'x-distribution-auth': connectionToken('guess', 'mallory', 's2') })).to.match(/401/);
    expect(await refusal({ 'x-distribution-auth': connectionToken(secret, 's1', 's2') })).to.match(/401/); // s1's token, used by mallory
    expect(await refusal({ 'x-distribution-auth': connectionToken(secret, 'mallory', 's2', Date.now() - 10 * 60_000) })).to.match(/401/);
    const token = connectionToken(secret, 's3', 's2');
    expect(await refusal({ 'x-distribution-auth': token }, 's3')).to.equal(undefined); // a genuine token works once
    expect(await refusal({ 'x-distribution-auth': token }, 's3')).to.match(/401/); // and never again
    expect(target.netStats().connectionsRefused).to.equal(6);
  });

  it('a node with a different secret cannot reach the cluster', async () => {
    const outsider = await cluster.add('s3', { secret: 'another secret' });
    outsider.env.net.send('s1', 'chat', Buffer.from('let me in'));
    await until(() => cluster.get('s1').netStats().connectionsRefused >= 1, undefined, 'refusal');
  });
});
