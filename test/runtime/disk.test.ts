import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import type { DiskWriteResult } from '../../src/env/index.js';
import { syncCommitOpsMax } from '../../src/runtime/disk.js';
import { LmdbDisk } from '../../src/runtime/index.js';
import { tempDir, until } from './helpers.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

function writeAndWait(disk: LmdbDisk, batch: Parameters<LmdbDisk['write']>[0]): Promise<DiskWriteResult> {
  return new Promise((resolve) => disk.write(batch, resolve));
}

describe('runtime lmdb disk specifics', () => {
  let dir: ReturnType<typeof tempDir>;
  let disk: LmdbDisk;

  beforeEach(() => {
    dir = tempDir('disk');
    disk = new LmdbDisk(dir.path);
  });
  afterEach(async () => {
    await disk.close();
    dir.remove();
  });

  it('survives a reopen once durable', async () => {
    expect((await writeAndWait(disk, [{ key: 'a', value: bytes('1') }])).ok).to.equal(true);
    await disk.close();
    disk = new LmdbDisk(dir.path);
    expect(text(disk.get('a'))).to.equal('1');
  });

  // Written in one tick, the writes go to lmdb's writer thread as one batch; written one after another,
  // each commits on the calling thread. Both must be on disk when acknowledged.
  for (const pace of ['in one tick', 'one after another'] as const) {
    it(`with durableAt 'commit', what was acknowledged survives a process killed right after (${pace})`, async function () {
      this.timeout(20_000);
      await disk.close();
      // A child writes 200 batches, and SIGKILLs itself inside the last acknowledgement: no exit hooks, no flush.
      const diskModule = new URL('../../src/runtime/disk.js', import.meta.url).href;
      const script = `
        const { LmdbDisk } = await import(${JSON.stringify(diskModule)});
        const disk = new LmdbDisk(${JSON.stringify(dir.path)}, { durableAt: 'commit' });
        const writesCount = 200;
        const oneAfterAnother = ${JSON.stringify(pace === 'one after another')};
        let acked = 0;
        const write = (i) => disk.write([{ key: 'k' + i, value: new TextEncoder().encode('v' + i) }], (r) => {
          if (!r.ok) process.exit(3);
          if (++acked === writesCount) process.kill(process.pid, 'SIGKILL');
          if (oneAfterAnother) write(i + 1);
        });
        if (oneAfterAnother) write(0);
        else for (let i = 0; i < writesCount; i++) write(i);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000 });
      expect(child.signal).to.equal('SIGKILL');
      disk = new LmdbDisk(dir.path);
      for (let i = 0; i < 200; i++) expect(text(disk.get('k' + i))).to.equal('v' + i);
    });
  }

  it("with durableAt 'commit', lone writes, batches up to the bound (this thread), larger ones and writes during an async commit (lmdb's writer) keep their order", async () => {
    await disk.close();
    disk = new LmdbDisk(dir.path, { durableAt: 'commit' });
    const acks: string[] = [];
    const write = (key: string, value: string, tag: string): Promise<DiskWriteResult> => new Promise((resolve) => disk.write([{ key, value: bytes(value) }], (r) => {
      acks.push(tag);
      resolve(r);
    }));
    expect((await write('k', 'lone-1', 'lone-1')).ok).to.equal(true); // alone: commits on this thread
    const small = Array.from({ length: syncCommitOpsMax }, (_, i) => write('k', `small-${i}`, `small-${i}`)); // at the bound: this thread too
    expect(text(disk.get('k'))).to.equal(`small-${syncCommitOpsMax - 1}`);
    await Promise.resolve();
    expect(disk.asyncCommitsInFlight).to.equal(0);
    await Promise.all(small);
    const burstLength = syncCommitOpsMax + 1; // one tick, over the bound: an async batch
    const burst = Array.from({ length: burstLength }, (_, i) => write('k', `burst-${i}`, `burst-${i}`));
    await Promise.resolve();
    await Promise.resolve();
    expect(disk.asyncCommitsInFlight).to.equal(1);
    const during = write('k', 'during', 'during'); // queued while the burst's commit is in flight: async too
    expect(text(disk.get('k'))).to.equal('during');
    await Promise.all([...burst, during]);
    const smallTags = Array.from({ length: syncCommitOpsMax }, (_, i) => `small-${i}`);
    expect(acks).to.deep.equal(['lone-1', ...smallTags, ...Array.from({ length: burstLength }, (_, i) => `burst-${i}`), 'during']);
    expect((await write('k', 'lone-2', 'lone-2')).ok).to.equal(true);
    expect(disk.pendingKeyCount).to.equal(0);
    await disk.close();
    disk = new LmdbDisk(dir.path);
    expect(text(disk.get('k'))).to.equal('lone-2');
  });

  // lmdb failing a commit (a full or failing disk) is injected where lmdb is called, on both commit paths.
  for (const path of ['this thread', "lmdb's writer thread"] as const) {
    it(`a commit that lmdb fails (${path}): every batch in it answers E_DISK_WRITE, none of it stays visible or lands`, async () => {
      await disk.close();
      disk = new LmdbDisk(dir.path, { durableAt: 'commit' });
      expect((await writeAndWait(disk, [{ key: 'k', value: bytes('before') }])).ok).to.equal(true);
      const db = (disk as unknown as { db: Record<string, unknown> }).db;
      const method = path === 'this thread' ? 'transactionSync' : 'batch';
      const real = db[method];
      db[method] = path === 'this thread'
        ? () => { throw new Error('MDB_MAP_FULL: environment mapsize limit reached'); }
        : () => Promise.reject(new Error('ENOSPC: no space left on device'));
      const count = path === 'this thread' ? 2 : syncCommitOpsMax + 1;
      let results: DiskWriteResult[];
      try {
        const writes = Array.from({ length: count }, (_, i) => writeAndWait(disk, [{ key: 'k', value: bytes(`lost-${i}`) }, { key: `new-${i}`, value: bytes('x') }]));
        expect(text(disk.get('k'))).to.equal(`lost-${count - 1}`); // read-your-writes while pending
        results = await Promise.all(writes);
      } finally {
        db[method] = real;
      }
      expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).to.deep.equal(Array(count).fill('E_DISK_WRITE'));
      expect(text(disk.get('k'))).to.equal('before');
      expect(disk.get('new-0')).to.equal(undefined);
      expect(disk.pendingKeyCount).to.equal(0);
      expect((await writeAndWait(disk, [{ key: 'k', value: bytes('after') }])).ok).to.equal(true);
      await disk.close();
      disk = new LmdbDisk(dir.path);
      expect([text(disk.get('k')), disk.get(`new-${count - 1}`)]).to.deep.equal(['after', undefined]);
    });
  }

  it('a batch failing validation applies none of its ops and leaves earlier pending writes visible', async () => {
    let firstDurable = false;
    disk.write([{ key: 'k', value: bytes('first') }], () => (firstDurable = true));
    const failed = writeAndWait(disk, [{ key: 'k', value: bytes('second') }, { key: 'x'.repeat(2_000), value: bytes('too long') }]);
    // Validation fails before anything is applied, so 'second' never shows.
    expect(text(disk.get('k'))).to.equal('first');
    expect((await failed).ok).to.equal(false);
    await until(() => firstDurable);
    expect(text(disk.get('k'))).to.equal('first');
    expect(disk.pendingKeyCount).to.equal(0);
  });

  it('batches written in one tick are committed together yet answered and validated one by one', async () => {
    const results: Promise<DiskWriteResult>[] = [];
    for (let i = 0; i < 50; i++) {
      // Every tenth batch carries a key lmdb could not hold: it alone fails, none of its ops shows.
      const bad = i % 10 === 9;
      results.push(writeAndWait(disk, [{ key: `a${i}`, value: bytes(`v${i}`) }, { key: bad ? 'x'.repeat(2_000) : `b${i}`, value: bytes(`w${i}`) }]));
      expect(text(disk.get(`a${i}`))).to.equal(bad ? undefined : `v${i}`);
    }
    const outcomes = await Promise.all(results);
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).to.equal(i % 10 !== 9);
      if (!outcome.ok) expect(outcome.error.code).to.equal('E_DISK_KEY_TOO_LARGE');
    });
    expect(disk.pendingKeyCount).to.equal(0);
    await disk.close();
    disk = new LmdbDisk(dir.path);
    for (let i = 0; i < 50; i++) {
      expect(text(disk.get(`a${i}`))).to.equal(i % 10 === 9 ? undefined : `v${i}`);
      expect(text(disk.get(`b${i}`))).to.equal(i % 10 === 9 ? undefined : `w${i}`);
    }
  });

  it('a key written by many pending batches shows the newest until all are durable, then the last', async () => {
    const waits: Promise<DiskWriteResult>[] = [];
    for (let tick = 0; tick < 5; tick++) {
      for (let i = 0; i < 20; i++) {
        const value = `${tick}-${i}`;
        // The same key twice in one batch too: the later op wins, as in lmdb.
        waits.push(writeAndWait(disk, [{ key: 'hot', value: bytes('shadowed') }, { key: 'hot', value: bytes(value) }, { key: `k${i}`, value: i % 3 === 0 ? undefined : bytes(value) }]));
        expect(text(disk.get('hot'))).to.equal(value);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(text(disk.get('hot'))).to.equal(`${tick}-19`);
    }
    expect((await Promise.all(waits)).every((r) => r.ok)).to.equal(true);
    expect(disk.pendingKeyCount).to.equal(0);
    expect(text(disk.get('hot'))).to.equal('4-19');
    expect(text(disk.get('k3'))).to.equal(undefined);
    expect(text(disk.get('k4'))).to.equal('4-4');
  });

  it('writes queued when the disk closes are committed before it closes; later ones fail with a code', async () => {
    const queued = writeAndWait(disk, [{ key: 'q', value: bytes('1') }]);
    await disk.close();
    expect((await queued).ok).to.equal(true);
    const late = await writeAndWait(disk, [{ key: 'r', value: bytes('2') }]);
    expect(late.ok === false && late.error.code).to.equal('E_DISK_CLOSED');
    disk = new LmdbDisk(dir.path);
    expect(text(disk.get('q'))).to.equal('1');
  });

  it('scans with bounds longer than any storable key', async () => {
    const long = 'b'.repeat(1_500);
    await writeAndWait(disk, ['a', 'b', 'bb', 'c'].map((key) => ({ key, value: bytes(key) })));
    const keys = (range: Parameters<LmdbDisk['scan']>[0]): string[] => [...disk.scan(range)].map(([k]) => k);
    expect(keys({ start: long })).to.deep.equal(['c']);
    expect(keys({ end: long })).to.deep.equal(['a', 'b', 'bb']);
    expect(keys({ start: 'b', end: long, reverse: true })).to.deep.equal(['bb', 'b']);
    expect(keys({ start: long, reverse: true })).to.deep.equal(['c']);
  });

  it('orders keys by UTF-16 code unit, like JavaScript strings', async () => {
    const keys = ['', 'a', 'B', '\u{1F600}', '\uFFFF', '\uE000', 'ab', 'a\u0000'];
    await writeAndWait(disk, keys.map((key) => ({ key, value: bytes(key) })));
    expect([...disk.scan({})].map(([k]) => k)).to.deep.equal([...keys].sort());
  });

  for (const durableAt of ['flush', 'commit'] as const) {
    it(`get and scan over committed plus pending writes match a Map model at every step (durableAt '${durableAt}')`, async () => {
      await disk.close();
      disk = new LmdbDisk(dir.path, { durableAt });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.option(fc.constantFrom('1', '2', '3'), { nil: undefined }), fc.boolean(), fc.boolean()), { maxLength: 20 }),
          fc.constantFrom(undefined, 'b', 'c'), fc.constantFrom(undefined, 'd', 'f'), fc.option(fc.nat({ max: 6 }), { nil: undefined }), fc.boolean(), fc.boolean(),
          async (ops, start, end, limit, reverse, handedOver) => {
            const model = new Map<string, string>();
            for (const [key] of [...disk.scan({})]) model.set(key, text(disk.get(key))!);
            const waits: Promise<DiskWriteResult>[] = [];
            for (const [key, value, wait, look] of ops) {
              const p = writeAndWait(disk, [{ key, value: value === undefined ? undefined : bytes(value) }]);
              if (value === undefined) model.delete(key);
              else model.set(key, value);
              // A read in the same run as queued writes puts them in the overlay; later writes join it.
              if (look) expect(text(disk.get(key))).to.equal(model.get(key));
              if (wait) await p;
              else waits.push(p);
            }
            let expected = [...model.entries()].filter(([k]) => (start === undefined || k >= start) && (end === undefined || k < end)).sort(([a], [b]) => (a < b ? -1 : 1));
            if (reverse) expected.reverse();
            if (limit !== undefined) expected = expected.slice(0, limit);
            const range = { ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }), ...(limit === undefined ? {} : { limit }), reverse };
            // Either read in the writes' own run, or first let the queue go to lmdb (a microtask): under
            // 'flush' the commit is then in flight, and what nobody read yet must still be seen.
            if (handedOver) await Promise.resolve();
            expect([...disk.scan(range)].map(([k, v]) => [k, text(v)])).to.deep.equal(expected);
            await Promise.all(waits);
            expect([...disk.scan(range)].map(([k, v]) => [k, text(v)])).to.deep.equal(expected);
            expect(disk.pendingKeyCount).to.equal(0);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
