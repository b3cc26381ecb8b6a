/**
 * The Env conformance suite: one set of behavioural tests, run against every backend through a harness
 * (js-libp2p style). A backend passes if protocols written against `Env` can rely on the same semantics in
 * the simulator and in the real runtime. No timing thresholds: time only bounds how long we wait.
 */
import { expect } from 'chai';
import type { DiskOp, DiskWriteResult, Env, NodeId, SpawnResult, WebResponse } from '../../src/env/index.js';
import { hasCode } from '../../src/lib/errors.js';
import { conformanceEchoProgram } from './programs.js';

export interface ConformanceCluster {
  env(id: NodeId): Env;
  /** Lets the backend's time pass until `predicate` holds; rejects once the backend's wait bound is spent. */
  until(predicate: () => boolean, what: string): Promise<void>;
  /** Lets `ms` of the backend's time pass. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Every disk write must fail (the sim injects the fault; the real runtime needs `failingBatch`). */
  readonly failingDisk?: boolean;
}

export interface EnvHarness {
  readonly name: string;
  start(ids: readonly NodeId[], options?: StartOptions): Promise<ConformanceCluster>;
  /** A batch the backend's disk refuses when started with `failingDisk`. */
  failingBatch(): DiskOp[];
  /** URLs served by the backend's web: one answering 200 with a non-empty body, one answering 404. */
  webUrls(): { ok: string; missing: string };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

export function describeEnvConformance(harness: EnvHarness): void {
  describe(`Env conformance: ${harness.name}`, function () {
    this.timeout(30_000);
    let cluster: ConformanceCluster | undefined;

    async function start(ids: readonly NodeId[], options?: StartOptions): Promise<ConformanceCluster> {
      cluster = await harness.start(ids, options);
      return cluster;
    }

    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    describe('clock and timers', () => {
      it('the clock never goes back, and a timer fires no earlier than its delay', async () => {
        const c = await start(['a']);
        const env = c.env('a');
        const readings = [env.clock.now()];
        let firedAt: number | undefined;
        const setAt = env.clock.now();
        env.timers.set(20, () => {
          firedAt = env.clock.now();
          readings.push(firedAt);
        });
        for (let i = 0; i < 5; i++) env.timers.set(i * 3, () => readings.push(env.clock.now()));
        await c.until(() => firedAt !== undefined, 'timer');
        readings.push(env.clock.now());
        for (let i = 1; i < readings.length; i++) expect(readings[i]!).to.be.at.least(readings[i - 1]!);
        // Real timers count whole milliseconds, so allow one millisecond of rounding below the delay.
        expect(firedAt! - setAt).to.be.at.least(19);
      });

      it('timers fire in deadline order and cancel works', async () => {
        const c = await start(['a']);
        const env = c.env('a');
        const fired: number[] = [];
        env.timers.set(60, () => fired.push(60));
        env.timers.set(20, () => fired.push(20));
        const cancelled = env.timers.set(30, () => fired.push(30));
        env.timers.set(40, () => fired.push(40));
        env.timers.cancel(cancelled);
        env.timers.cancel(cancelled); // twice: a no-op
        env.timers.cancel(987_654); // unknown: a no-op
        await c.until(() => fired.length === 3, 'three timers');
        await c.advance(50);
        expect(fired).to.deep.equal([20, 40, 60]);
      });

      it('zero-delay timers fire in the order set, before later deadlines, and cancel works', async () => {
        const c = await start(['a']);
        const env = c.env('a');
        const fired: string[] = [];
        env.timers.set(10, () => fired.push('ten'));
        env.timers.set(0, () => fired.push('first'));
        const cancelled = env.timers.set(0, () => fired.push('cancelled'));
        env.timers.set(0, () => {
          fired.push('second');
          env.timers.set(0, () => fired.push('nested'));
        });
        env.timers.cancel(cancelled);
        await c.until(() => fired.length === 4, 'four timers');
        expect(fired).to.deep.equal(['first', 'second', 'nested', 'ten']);
      });
    });

    describe('random', () => {
      it('forks are independent streams fixed by their label path', async () => {
        const c = await start(['a']);
        const random = c.env('a').random;
        const draw = (r: Env['random'], n: number): number[] => Array.from({ length: n }, () => r.int(0, 1_000_000));
        const first = draw(random.fork('x'), 20);
        draw(random, 50); // the parent's draws do not shift a fork
        const other = random.fork('y');
        draw(other, 50);
        expect(draw(random.fork('x'), 20)).to.deep.equal(first);
        expect(draw(random.fork('y'), 20)).to.not.deep.equal(first);
      });

      it('draws stay in range', async () => {
        const c = await start(['a']);
        const random = c.env('a').random;
        for (let i = 0; i < 1_000; i++) {
          const n = random.int(-3, 4);
          expect(Number.isInteger(n) && n >= -3 && n < 4).to.equal(true);
          const f = random.float();
          expect(f >= 0 && f < 1).to.equal(true);
        }
        expect(random.chance(0, 5)).to.equal(false);
        expect(random.chance(5, 5)).to.equal(true);
      });
    });

    describe('net', () => {
      it('delivers between two nodes with the sender id and the payload bytes', async () => {
        const c = await start(['a', 'b']);
        const got: string[] = [];
        c.env('a').net.listen('ch', (from, payload) => got.push(`${from}:${text(payload)}`));
        const payload = bytes('one');
        c.env('b').net.send('a', 'ch', payload);
        payload.set(bytes('XXX')); // send copied: later mutation does not travel
        c.env('b').net.send('a', 'ch', bytes('two'));
        c.env('a').net.send('b', 'ch', bytes('unheard')); // b does not listen on ch: dropped, not an error
        await c.until(() => got.length === 2, 'two messages');
        expect([...got].sort()).to.deep.equal(['b:one', 'b:two']);
      });

      it('listening again replaces the handler', async () => {
        const c = await start(['a', 'b']);
        const got: string[] = [];
        c.env('a').net.listen('ch', () => got.push('old'));
        c.env('a').net.listen('ch', () => got.push('new'));
        c.env('b').net.send('a', 'ch', bytes('x'));
        await c.until(() => got.length === 1, 'one message');
        expect(got).to.deep.equal(['new']);
      });

      it('refuses payloads over payloadBytesMax with E_NET_TOO_LARGE and delivers one at the limit', async () => {
        const c = await start(['a', 'b']);
        const net = c.env('b').net;
        expect(net.payloadBytesMax).to.be.a('number').and.above(0);
        let error: unknown;
        try {
          net.send('a', 'big', new Uint8Array(net.payloadBytesMax + 1));
        } catch (e) {
          error = e;
        }
        expect(hasCode(error, 'E_NET_TOO_LARGE')).to.equal(true);
        let size = -1;
        c.env('a').net.listen('big', (_from, payload) => (size = payload.length));
        net.send('a', 'big', new Uint8Array(net.payloadBytesMax));
        await c.until(() => size >= 0, 'max-size message');
        expect(size).to.equal(net.payloadBytesMax);
      });
    });

    describe('disk', () => {
      it('reads its own writes at once, then reports durability once', async () => {
        const c = await start(['a']);
        const disk = c.env('a').disk;
        const results: DiskWriteResult[] = [];
        disk.write([{ key: 'k1', value: bytes('v1') }, { key: 'k2', value: bytes('v2') }], (r) => results.push(r));
        expect(text(disk.get('k1'))).to.equal('v1');
        expect([...disk.scan({})].map(([k, v]) => [k, text(v)])).to.deep.equal([['k1', 'v1'], ['k2', 'v2']]);
        disk.write([{ key: 'k1', value: undefined }], (r) => results.push(r));
        expect(disk.get('k1')).to.equal(undefined);
        await c.until(() => results.length === 2, 'both durable');
        await c.advance(20);
        expect(results).to.deep.equal([{ ok: true }, { ok: true }]);
        expect(disk.get('k1')).to.equal(undefined);
        expect(text(disk.get('k2'))).to.equal('v2');
      });

      it('a written buffer the caller changes afterwards changes nothing; frozen bytes are kept as written', async () => {
        const c = await start(['a']);
        const disk = c.env('a').disk;
        const reused = bytes('v1');
        const frozen = bytes('f1');
        let durable = 0;
        disk.write([{ key: 'k', value: reused }, { key: 'f', value: frozen, frozen: true }], () => durable++);
        reused.set(bytes('XX')); // the caller reuses its buffer at once
        expect(text(disk.get('k'))).to.equal('v1');
        await c.until(() => durable === 1, 'durable');
        expect(text(disk.get('k'))).to.equal('v1');
        expect(text(disk.get('f'))).to.equal('f1');
      });

      it('read visits the value in place, pending or durable, and nests', async () => {
        const c = await start(['a']);
        const disk = c.env('a').disk;
        expect(disk.read, 'both backends offer read').to.be.a('function');
        const read = (key: string): string | undefined => disk.read!(key, (bytes) => text(bytes));
        let durable = false;
        disk.write([{ key: 'k1', value: bytes('v1') }, { key: 'k2', value: bytes('v2') }], () => (durable = true));
        expect(read('k1')).to.equal('v1');
        await c.until(() => durable, 'durable');
        expect(read('k1')).to.equal('v1');
        expect(read('missing')).to.equal(undefined);
        // Reads inside a visitor leave the bytes it is looking at alone.
        const seen = disk.read!('k1', (outer) => [read('k2'), text(disk.get('k2')), [...disk.scan({})].length, text(outer)]);
        expect(seen).to.deep.equal(['v2', 'v2', 2, 'v1']);
        disk.write([{ key: 'k1', value: undefined }], () => undefined);
        expect(read('k1')).to.equal(undefined);
      });

      it('scans in key order with start (inclusive), end (exclusive), limit and reverse', async () => {
        const c = await start(['a']);
        const disk = c.env('a').disk;
        const keys = ['b', 'a', 'd', 'c/2', 'c/1', 'c', 'e'];
        let durable = false;
        disk.write(keys.map((key) => ({ key, value: bytes(key.toUpperCase()) })), () => (durable = true));
        const scanKeys = (range: Parameters<Env['disk']['scan']>[0]): string[] => [...disk.scan(range)].map(([k]) => k);
        const check = (): void => {
          expect(scanKeys({})).to.deep.equal(['a', 'b', 'c', 'c/1', 'c/2', 'd', 'e']);
          expect(scanKeys({ start: 'b', end: 'd' })).to.deep.equal(['b', 'c', 'c/1', 'c/2']);
          expect(scanKeys({ start: 'c/', end: 'c0' })).to.deep.equal(['c/1', 'c/2']);
          expect(scanKeys({ limit: 2 })).to.deep.equal(['a', 'b']);
          expect(scanKeys({ reverse: true, limit: 3 })).to.deep.equal(['e', 'd', 'c/2']);
          expect(scanKeys({ start: 'b', end: 'd', reverse: true })).to.deep.equal(['c/2', 'c/1', 'c', 'b']);
          expect(scanKeys({ start: 'x' })).to.deep.equal([]);
          expect([...disk.scan({ start: 'c/1', limit: 1 })].map(([k, v]) => [k, text(v)])).to.deep.equal([['c/1', 'C/1']]);
        };
        check(); // pending
        await c.until(() => durable, 'durable');
        check(); // committed
      });

      it('a failing write reports a coded error and applies nothing', async () => {
        const c = await start(['a'], { failingDisk: true });
        const disk = c.env('a').disk;
        const batch = harness.failingBatch();
        let result: DiskWriteResult | undefined;
        disk.write(batch, (r) => (result = r));
        await c.until(() => result !== undefined, 'write result');
        expect(result!.ok).to.equal(false);
        if (!result!.ok) expect(result!.error.code).to.be.a('string').and.match(/^E_DISK/);
        for (const op of batch) expect(disk.get(op.key)).to.equal(undefined);
        expect([...disk.scan({})]).to.deep.equal([]);
      });
    });

    describe('hosts', () => {
      it('spawns a registered program, which then answers; stop takes it down; its id can be spawned again', async () => {
        const c = await start(['a']);
        const env = c.env('a');
        const replies: string[] = [];
        env.net.listen('echo-reply', (from, payload) => replies.push(`${from}:${text(payload)}`));
        const spawn = async (): Promise<SpawnResult> => {
          let result: SpawnResult | undefined;
          env.hosts.spawn({ id: 'h1', program: conformanceEchoProgram }, (r) => (result = r));
          await c.until(() => result !== undefined, 'spawn result');
          return result!;
        };
        expect(await spawn()).to.deep.equal({ ok: true, id: 'h1' });
        env.net.send('h1', 'echo', bytes('hello'));
        await c.until(() => replies.length === 1, 'echo');
        expect(replies).to.deep.equal(['h1:hello']);
        env.hosts.stop('h1');
        await c.advance(50);
        expect(await spawn()).to.deep.equal({ ok: true, id: 'h1' });
        env.net.send('h1', 'echo', bytes('again'));
        await c.until(() => replies.length === 2, 'echo after respawn');
        env.hosts.stop('h1');
      });

      it('reports an unknown program as E_UNKNOWN_PROGRAM', async () => {
        const c = await start(['a']);
        let result: SpawnResult | undefined;
        c.env('a').hosts.spawn({ id: 'h2', program: 'no-such-program' }, (r) => (result = r));
        await c.until(() => result !== undefined, 'spawn result');
        expect(result!.ok === false && result!.error.code).to.equal('E_UNKNOWN_PROGRAM');
      });
    });

    describe('web', () => {
      it('gets a page and a 404', async () => {
        const c = await start(['a']);
        const urls = harness.webUrls();
        const responses = new Map<string, WebResponse>();
        c.env('a').web.get(urls.ok, (r) => responses.set('ok', r));
        c.env('a').web.get(urls.missing, (r) => responses.set('missing', r));
        await c.until(() => responses.size === 2, 'two responses');
        const ok = responses.get('ok')!;
        expect(ok.ok && ok.status).to.equal(200);
        if (ok.ok) expect(ok.body.length).to.be.above(0);
        const missing = responses.get('missing')!;
        expect(missing.ok && missing.status).to.equal(404);
      });
    });

    describe('trace', () => {
      it('accepts events with JSON-safe fields', async () => {
        const c = await start(['a']);
        c.env('a').trace.event('conformance', { n: 1, s: 'x', list: [1, 2], nested: { ok: true } });
        c.env('a').trace.event('bare');
      });
    });
  });
}
