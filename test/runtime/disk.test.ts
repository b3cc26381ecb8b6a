import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import type { DiskWriteResult } from '../../src/env/index.js';
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

  it("with durableAt 'commit', what was acknowledged survives a process killed right after", async function () {
    this.timeout(20_000);
    await disk.close();
    // A child writes 200 batches, and SIGKILLs itself inside the last acknowledgement: no exit hooks, no flush.
    const diskModule = new URL('../../src/runtime/disk.js', import.meta.url).href;
    const script = `
      const { LmdbDisk } = await import(${JSON.stringify(diskModule)});
      const disk = new LmdbDisk(${JSON.stringify(dir.path)}, { durableAt: 'commit' });
      const writesCount = 200;
      let acked = 0;
      for (let i = 0; i < writesCount; i++) {
        disk.write([{ key: 'k' + i, value: new TextEncoder().encode('v' + i) }], (r) => {
          if (!r.ok) process.exit(3);
          if (++acked === writesCount) process.kill(process.pid, 'SIGKILL');
        });
      }`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000 });
    expect(child.signal).to.equal('SIGKILL');
    disk = new LmdbDisk(dir.path);
    for (let i = 0; i < 200; i++) expect(text(disk.get('k' + i))).to.equal('v' + i);
  });

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

  it('orders keys by UTF-16 code unit, like JavaScript strings', async () => {
    const keys = ['', 'a', 'B', '\u{1F600}', '\uFFFF', '\uE000', 'ab', 'a\u0000'];
    await writeAndWait(disk, keys.map((key) => ({ key, value: bytes(key) })));
    expect([...disk.scan({})].map(([k]) => k)).to.deep.equal([...keys].sort());
  });

  it('scan over committed plus pending writes matches a Map model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.option(fc.constantFrom('1', '2', '3'), { nil: undefined }), fc.boolean()), { maxLength: 20 }),
        fc.constantFrom(undefined, 'b', 'c'), fc.constantFrom(undefined, 'd', 'f'), fc.option(fc.nat({ max: 6 }), { nil: undefined }), fc.boolean(),
        async (ops, start, end, limit, reverse) => {
          const model = new Map<string, string>();
          for (const [key] of [...disk.scan({})]) model.set(key, text(disk.get(key))!);
          const waits: Promise<DiskWriteResult>[] = [];
          for (const [key, value, wait] of ops) {
            const p = writeAndWait(disk, [{ key, value: value === undefined ? undefined : bytes(value) }]);
            if (value === undefined) model.delete(key);
            else model.set(key, value);
            if (wait) await p;
            else waits.push(p);
          }
          let expected = [...model.entries()].filter(([k]) => (start === undefined || k >= start) && (end === undefined || k < end)).sort(([a], [b]) => (a < b ? -1 : 1));
          if (reverse) expected.reverse();
          if (limit !== undefined) expected = expected.slice(0, limit);
          const range = { ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }), ...(limit === undefined ? {} : { limit }), reverse };
          expect([...disk.scan(range)].map(([k, v]) => [k, text(v)])).to.deep.equal(expected);
          await Promise.all(waits);
          expect([...disk.scan(range)].map(([k, v]) => [k, text(v)])).to.deep.equal(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
