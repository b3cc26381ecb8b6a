/**
 * The local store path against raw lmdb, in one process, on temporary directories (issue 5):
 *
 *   raw lmdb:  lmdb's own `db.put(key, object)` / `db.get(key)` (its default msgpack value encoding,
 *              string keys), the fastest way to keep JS objects in lmdb.
 *   ours:      `createLocalStorage(new StoreEngine(new LmdbDisk(dir)))`, the node's `local.store` as
 *              course code calls it: `put(value, key, cb)` / `get(key, cb)`, cfg parsing, gid
 *              namespacing, our binary serializer, the disk's read-your-writes overlay.
 *
 * Puts are answered once durable on both sides, the same durability: flushed (fsync). Ours: in onDurable,
 * which waits for the commit and then `db.flushed`; raw: the same two waits, the promise of `db.put`
 * (lmdb resolves it at the commit, before the flush, under its default overlapping sync) and then
 * `db.flushed`. A second pair runs at the course facade's durability: committed to the OS without fsync
 * (`durableAt: 'commit'` for ours, lmdb's `noSync` and the put promise for raw), where the I/O no longer
 * hides the CPU each side spends. There ours commits a run's puts on the calling thread (`transactionSync`),
 * which raw lmdb's async `put` does not: a third raw side does the same (`rawCommitSync`: the puts of one
 * run of synchronous code in one `transactionSync`, answered after it), so the overhead of our layers is
 * also shown against the same commit path. `putWindow` in flight, so lmdb batches commits for all alike. Gets are
 * synchronous on both sides. Values: the course's five-property objects. Rounds alternate between the
 * sides (and which goes first); each figure is the median round.
 *
 * Run: npm run build && npm run bench:lmdb      writes bench/results/lmdb.json. Target: overhead <= 20%.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { LmdbDisk } from '../src/runtime/disk.js';
import { createLocalStorage, StoreEngine } from '../src/protocols/kv/index.js';
import type { Callback } from '../src/protocols/node/index.js';
import { formatRate, measureInterleaved, printTable, putFiveProperties, syncCommitPut, writeResult, type Put } from './harness.js';

const keysCount = 10_000;
const putWindow = 50;
const putRounds = 7;


function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'distribution-bench-lmdb-'));
  const raw = open<unknown, string>({ path: join(root, 'raw'), compression: false });
  const disk = new LmdbDisk(join(root, 'ours'));
  const store = createLocalStorage(new StoreEngine(disk)) as Record<string, (...args: unknown[]) => void>;
  // The course facade's durability: committed to the OS, no fsync (lmdb noSync on both sides).
  const rawNoSync = open<unknown, string>({ path: join(root, 'raw-nosync'), compression: false, noSync: true });
  const rawNoSyncOwnThread = open<unknown, string>({ path: join(root, 'raw-nosync-sync'), compression: false, noSync: true });
  const diskAtCommit = new LmdbDisk(join(root, 'ours-commit'), { durableAt: 'commit' });
  const storeAtCommit = createLocalStorage(new StoreEngine(diskAtCommit)) as Record<string, (...args: unknown[]) => void>;
  const puts: Record<'raw' | 'ours' | 'rawCommit' | 'rawCommitSync' | 'oursCommit', Put> = {
    raw: (key, value, done) => void raw.put(key, value).then(() => raw.flushed).then(() => done(null), done),
    ours: (key, value, done) => store['put']!(value, key, (err: Error | null) => done(err)),
    rawCommit: (key, value, done) => void rawNoSync.put(key, value).then(() => done(null), done),
    rawCommitSync: syncCommitPut(rawNoSyncOwnThread),
    oursCommit: (key, value, done) => storeAtCommit['put']!(value, key, (err: Error | null) => done(err)),
  };
  const names = Object.keys(puts) as (keyof typeof puts)[];

  const putMs = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<keyof typeof puts, number[]>;
  for (const name of names) await putFiveProperties(puts[name], 0, keysCount, putWindow); // warm-up, and the data the gets read
  for (let round = 1; round <= putRounds; round++) {
    // Who goes first alternates too: the first of a round may find the machine quieter.
    for (const name of round % 2 === 0 ? names : [...names].reverse()) putMs[name].push(await putFiveProperties(puts[name], round, keysCount, putWindow));
  }
  const putRate = Object.fromEntries(names.map((name) => [name, (keysCount / median(putMs[name])) * 1000])) as Record<keyof typeof puts, number>;

  let next = 0;
  let sink: unknown;
  const ourGet = store['get']!;
  const keep: Callback = (err, value) => {
    if (err !== null) throw err;
    sink = value;
  };
  const [rawGet, oursGet] = measureInterleaved([
    () => raw.get(`key-${(next = (next + 1) % keysCount)}`),
    () => ourGet(`key-${(next = (next + 1) % keysCount)}`, keep),
  ]) as unknown as [{ opsPerSec: number }, { opsPerSec: number }];
  void sink;

  const overhead = (ours: number, peer: number): string => `${((peer / ours - 1) * 100).toFixed(1)}%`;
  console.log(`\nlocal store vs raw lmdb: ${keysCount} five-property objects; puts ${putWindow} in flight, each acknowledged once durable (fsynced; or committed, under noSync); gets synchronous`);
  printTable([
    { op: 'put (fsync)', 'raw lmdb': formatRate(putRate.raw), ours: formatRate(putRate.ours), 'overhead (time/op)': overhead(putRate.ours, putRate.raw) },
    { op: 'put (commit, noSync)', 'raw lmdb': formatRate(putRate.rawCommit), ours: formatRate(putRate.oursCommit), 'overhead (time/op)': overhead(putRate.oursCommit, putRate.rawCommit) },
    { op: 'put (noSync, raw also commits on this thread)', 'raw lmdb': formatRate(putRate.rawCommitSync), ours: formatRate(putRate.oursCommit), 'overhead (time/op)': overhead(putRate.oursCommit, putRate.rawCommitSync) },
    { op: 'get', 'raw lmdb': formatRate(rawGet.opsPerSec), ours: formatRate(oursGet.opsPerSec), 'overhead (time/op)': overhead(oursGet.opsPerSec, rawGet.opsPerSec) },
  ]);
  const file = writeResult('lmdb', {
    keysCount, putWindow, putRounds,
    putsPerSec: putRate, getsPerSec: { raw: rawGet.opsPerSec, ours: oursGet.opsPerSec },
  });
  console.log(`\nwrote ${file}`);
  await raw.close();
  await rawNoSync.close();
  await rawNoSyncOwnThread.close();
  await disk.close();
  await diskAtCommit.close();
  rmSync(root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
