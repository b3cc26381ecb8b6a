/** Local mem and store: course semantics, coded errors, nothing half-written, durability across restarts. */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Disk, DiskOp, DiskWriteResult, Env, NodeProgram } from '../../../src/env/index.js';
import { DistError } from '../../../src/lib/errors.js';
import { MemEngine, StoreEngine, keyCharsMax, type KvEngine } from '../../../src/protocols/kv/engine.js';
import { createLocalStorage } from '../../../src/protocols/kv/local.js';
import { getID } from '../../../src/protocols/node/id.js';
import { LmdbDisk } from '../../../src/runtime/disk.js';
import { Simulation } from '../../../src/sim/index.js';

/** A synchronous in-memory disk whose writes can be made to fail. */
class FakeDisk implements Disk {
  readonly data = new Map<string, Uint8Array>();
  failNext = false;
  get(key: string): Uint8Array | undefined { return this.data.get(key); }
  *scan(range: { start?: string; end?: string }): Iterable<[string, Uint8Array]> {
    for (const key of [...this.data.keys()].sort()) {
      if ((range.start === undefined || key >= range.start) && (range.end === undefined || key < range.end)) yield [key, this.data.get(key) as Uint8Array];
    }
  }
  write(batch: readonly DiskOp[], onDurable: (result: DiskWriteResult) => void): void {
    if (this.failNext) {
      this.failNext = false;
      return onDurable({ ok: false, error: Object.assign(new Error('full'), { code: 'E_DISK_FULL' }) });
    }
    for (const op of batch) (op.value === undefined ? this.data.delete(op.key) : this.data.set(op.key, op.value));
    onDurable({ ok: true });
  }
}

type Answer = { err: Error | null; value: unknown };
function call(service: Record<string, unknown>, method: string, ...args: unknown[]): Answer {
  let answer: Answer | undefined;
  (service[method] as Function)(...args, (err: Error | null, value: unknown) => (answer = { err, value }));
  expect(answer, `${method} answered synchronously`).to.not.equal(undefined);
  return answer as Answer;
}
const code = (a: Answer): unknown => (a.err as DistError | null)?.code;

for (const kind of ['mem', 'store'] as const) {
  describe(`kv local ${kind}`, () => {
    let disk: FakeDisk;
    let service: Record<string, unknown>;
    beforeEach(() => {
      disk = new FakeDisk();
      const engine: KvEngine = kind === 'mem' ? new MemEngine() : new StoreEngine(disk, 1024);
      service = createLocalStorage(engine);
    });

    it('put/get/del round-trip; del returns the deleted value; missing keys are E_KV_NOT_FOUND', () => {
      const value = { name: 'x', n: [1, 2] };
      expect(call(service, 'put', value, 'k').value).to.deep.equal(value);
      expect(call(service, 'get', 'k').value).to.deep.equal(value);
      expect(call(service, 'del', 'k').value).to.deep.equal(value);
      expect(code(call(service, 'get', 'k'))).to.equal('E_KV_NOT_FOUND');
      expect(code(call(service, 'del', 'k'))).to.equal('E_KV_NOT_FOUND');
    });

    it('namespaces by gid; null key uses getID(value); get(null) lists the gid\'s keys', () => {
      call(service, 'put', 1, { key: 'a', gid: 'g1' });
      call(service, 'put', 2, { key: 'a', gid: 'g2' });
      call(service, 'put', 'v', null);
      expect(call(service, 'get', { key: 'a', gid: 'g1' }).value).to.equal(1);
      expect(call(service, 'get', { key: 'a', gid: 'g2' }).value).to.equal(2);
      expect(call(service, 'get', getID('v')).value).to.equal('v');
      expect(call(service, 'get', { key: null, gid: 'g1' }).value).to.deep.equal(['a']);
      expect(call(service, 'get', null).value).to.deep.equal([getID('v')]);
    });

    it('keeps every gid apart, past the number of gids whose key prefixes are remembered (1,024)', () => {
      const gids = Array.from({ length: 1_100 }, (_, i) => `g${i}`);
      for (const gid of gids) call(service, 'put', gid, { key: 'k', gid });
      for (const gid of [...gids].reverse()) {
        expect(call(service, 'get', { key: 'k', gid }).value).to.equal(gid);
        expect(call(service, 'get', { key: null, gid }).value).to.deep.equal(['k']);
      }
      expect(call(service, 'get', { key: null, gid: 'g1' }).value).to.deep.equal(['k']); // not g10, g100 …
    });

    it('append accumulates into an array', () => {
      expect(call(service, 'append', 1, 'l').value).to.deep.equal([1]);
      expect(call(service, 'append', 2, 'l').value).to.deep.equal([1, 2]);
      call(service, 'put', 'x', 'scalar');
      expect(call(service, 'append', 'y', 'scalar').value).to.deep.equal(['x', 'y']);
    });

    it('any string is a key (slashes, dots, \\0, emoji); bad keys and gids get coded errors', () => {
      for (const key of ['../../etc/passwd', 'a/b\\c', '\0', '', '🙂', 'CON']) {
        call(service, 'put', key, key);
        expect(call(service, 'get', key).value).to.equal(key);
      }
      expect(code(call(service, 'put', 1, { key: 5 }))).to.equal('E_KV_BAD_KEY');
      expect(code(call(service, 'put', 1, 'x'.repeat(keyCharsMax + 1)))).to.equal('E_KV_KEY_TOO_LONG');
      expect(code(call(service, 'put', 1, { key: 'k', gid: 'a\0b' }))).to.equal('E_KV_BAD_GID');
      expect(code(call(service, 'get', 42))).to.equal('E_KV_BAD_CONFIG');
    });
  });
}

describe('kv local store: bad values and failing disks', () => {
  it('oversized and unserializable values are refused with codes and nothing is written', () => {
    const disk = new FakeDisk();
    const service = createLocalStorage(new StoreEngine(disk, 1024));
    expect(code(call(service, 'put', 'x'.repeat(2000), 'big'))).to.equal('E_KV_VALUE_TOO_LARGE');
    expect(code(call(service, 'put', Symbol('s'), 'sym'))).to.equal('E_KV_UNSERIALIZABLE');
    expect(code(call(service, 'put', { p: Promise.resolve() }, 'p'))).to.equal('E_KV_UNSERIALIZABLE');
    expect(disk.data.size).to.equal(0);
  });

  it('a failing or full disk answers E_KV_DISK and leaves the old value', () => {
    const disk = new FakeDisk();
    const service = createLocalStorage(new StoreEngine(disk));
    call(service, 'put', 'old', 'k');
    disk.failNext = true;
    const failed = call(service, 'put', 'new', 'k');
    expect(code(failed)).to.equal('E_KV_DISK');
    expect((failed.err as DistError).details).to.have.property('reason', 'E_DISK_FULL');
    expect(call(service, 'get', 'k').value).to.equal('old');
  });

  it('functions and dates survive the serializer', () => {
    const service = createLocalStorage(new StoreEngine(new FakeDisk()));
    call(service, 'put', { f: (x: number) => x + 1, d: new Date(5) }, 'k');
    const back = call(service, 'get', 'k').value as { f: (x: number) => number; d: Date };
    expect(back.f(1)).to.equal(2);
    expect(back.d.getTime()).to.equal(5);
  });
});

describe('kv local store on the Env disks', () => {
  it('simulator: a put answered in onDurable survives a crash and restart', () => {
    const sim = new Simulation({ seed: 3 });
    const factory = (env: Env): NodeProgram => {
      const service = createLocalStorage(new StoreEngine(env.disk));
      return { inspect: () => service };
    };
    sim.addNode('n1', factory);
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      sim.at(i, () => {
        const service = sim.inspect('n1') as Record<string, unknown>;
        (service.put as Function)(i, `k${i}`, (err: Error | null) => err === null && acked.push(`k${i}`));
      });
    }
    sim.runUntil(8);
    sim.crash('n1');
    sim.restart('n1');
    sim.runUntil(100);
    const service = sim.inspect('n1') as Record<string, unknown>;
    expect(acked.length).to.be.above(0);
    for (const key of acked) expect(call(service, 'get', key).err).to.equal(null);
  });

  it('runtime: lmdb keeps values across reopen', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-lmdb-'));
    try {
      const disk = new LmdbDisk(dir);
      const service = createLocalStorage(new StoreEngine(disk));
      await new Promise<void>((resolve, reject) => (service.put as Function)({ a: 1 }, { key: 'x/../y', gid: 'g' }, (err: Error | null) => (err ? reject(err) : resolve())));
      await disk.close();
      const reopened = new LmdbDisk(dir);
      const again = createLocalStorage(new StoreEngine(reopened));
      expect(call(again, 'get', { key: 'x/../y', gid: 'g' }).value).to.deep.equal({ a: 1 });
      expect(call(again, 'get', { key: null, gid: 'g' }).value).to.deep.equal(['x/../y']);
      await reopened.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
