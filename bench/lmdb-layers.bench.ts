/**
 * Where the local store path's time goes on top of raw lmdb: the same puts (10,000 five-property objects,
 * 50 in flight, committed without fsync) through one more layer at a time:
 *
 *   raw lmdb, async   `db.put(key, object)` (msgpack values, string keys): lmdb's own way, for contrast
 *   raw lmdb          the same puts, one run's puts committed in one `transactionSync` on this thread,
 *                     as our disk commits under noSync; the layers below are measured against this
 *   + serializer      our encoding into a binary lmdb with the store's key (`kv/local\0<key>`), same commit
 *   + disk            `LmdbDisk.write` (validation, overlay, batching, settling; values copied)
 *   + engine          `StoreEngine.write` (key and gid checks, namespaced keys, frozen values)
 *   + course method   `local.store.put(value, key, cb)`
 *
 * Rounds alternate between the layers; each figure is the median round. Companion of lmdb.bench.ts.
 * Run: npm run build && npm run bench:lmdb-layers      writes bench/results/lmdb-layers.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { LmdbDisk } from '../src/runtime/disk.js';
import { createLocalStorage, StoreEngine } from '../src/protocols/kv/index.js';
import { encode } from '../src/serialize/index.js';
import { median, printTable, putFiveProperties, syncCommitPut, writeResult, type Put } from './harness.js';

const keysCount = 10_000;
const putWindow = 50;
const rounds = 15;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'distribution-bench-lmdb-layers-'));
  const rawAsync = open<unknown, string>({ path: join(root, 'raw-async'), compression: false, noSync: true });
  const raw = open<unknown, string>({ path: join(root, 'raw'), compression: false, noSync: true });
  const rawBinary = open<Buffer, string>({ path: join(root, 'raw-binary'), compression: false, noSync: true, encoding: 'binary' });
  const disk = new LmdbDisk(join(root, 'disk'), { durableAt: 'commit' });
  const engineDisk = new LmdbDisk(join(root, 'engine'), { durableAt: 'commit' });
  const engine = new StoreEngine(engineDisk);
  const storeDisk = new LmdbDisk(join(root, 'store'), { durableAt: 'commit' });
  const store = createLocalStorage(new StoreEngine(storeDisk)) as Record<string, (...args: unknown[]) => void>;
  const serializerPut = syncCommitPut(rawBinary, (value) => encode(value) as Buffer);
  const layers: Record<string, Put> = {
    'raw lmdb, async': (key, value, done) => void rawAsync.put(key, value).then(() => done(null), done),
    'raw lmdb': syncCommitPut(raw),
    '+ serializer': (key, value, done) => serializerPut(`kv/local\0${key}`, value, done),
    '+ disk': (key, value, done) => disk.write([{ key: `kv/local\0${key}`, value: encode(value) }], (r) => done(r.ok ? null : r.error)),
    '+ engine': (key, value, done) => engine.write([{ gid: 'local', key, put: true, value }], done),
    '+ course method': (key, value, done) => store['put']!(value, key, done),
  };
  const names = Object.keys(layers);
  const ms: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) await putFiveProperties(layers[name]!, 0, keysCount, putWindow); // warm-up
  for (let round = 1; round <= rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) ms[name]!.push(await putFiveProperties(layers[name]!, round, keysCount, putWindow));
  }
  const usPerPut = (name: string): number => (median(ms[name]!) / keysCount) * 1000;
  const rawUs = usPerPut('raw lmdb');
  const rows = names.map((name, i) => ({
    layer: name, 'µs per put': usPerPut(name).toFixed(2),
    'this layer': i <= 1 ? '' : `${(usPerPut(name) - usPerPut(names[i - 1]!)).toFixed(2)} µs`,
    'over raw': `${((usPerPut(name) / rawUs - 1) * 100).toFixed(1)}%`,
  }));
  console.log(`\nstore path layer by layer: ${keysCount} five-property puts, ${putWindow} in flight, committed without fsync, median of ${rounds} rounds`);
  printTable(rows);
  console.log(`\nwrote ${writeResult('lmdb-layers', { keysCount, putWindow, rounds, usPerPut: Object.fromEntries(names.map((n) => [n, usPerPut(n)])) })}`);
  await Promise.all([rawAsync.close(), raw.close(), rawBinary.close(), disk.close(), engineDisk.close(), storeDisk.close()]);
  rmSync(root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
