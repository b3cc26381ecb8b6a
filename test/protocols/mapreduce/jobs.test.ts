/** Jobs end to end in the simulator (no faults unless stated): word count, options (compact, out,
 * memory, rounds), user-function failures with their keys, lost and missing data, the Promise API. */
import { expect } from 'chai';
import { hasCode } from '../../../src/lib/errors.js';
import { callUser, execJob, mapReduce, outputGid, shuffleGid, useFailureDetector, type Job } from '../../../src/protocols/mapreduce/index.js';
import { settle, simCluster } from '../helpers.js';
import { sidOf } from '../../../src/protocols/node/index.js';
import { sequentialReference } from '../../../src/sim/workloads/mapreduce.js';
import { asObject, gid, handle, mrCluster, runJob } from './helpers.js';

const docs = { d1: 'the cat sat', d2: 'the dog', d3: 'a cat a dog', d4: 'zebra', d5: 'the end' };
const wordCount = {
  keys: Object.keys(docs),
  map: (_k: string, v: string) => v.split(' ').map((w) => ({ [w]: 1 })),
  reduce: (k: string, vs: number[]) => ({ [k]: vs.reduce((a, b) => a + b, 0) }),
};
const expected = sequentialReference(wordCount, docs);

function cluster(options: Parameters<typeof mrCluster>[2] = {}) {
  const sim = mrCluster(3, docs, options);
  sim.runUntil(50);
  return sim;
}

describe('mapreduce jobs (simulator)', () => {
  it('word count equals the sequential reference, with and without a combiner, in store or mem', () => {
    for (const extra of [{}, { compact: wordCount.reduce }, { memory: true }, { compact: wordCount.reduce, memory: true }]) {
      const [err, results] = runJob(cluster(), { ...wordCount, ...extra });
      expect(err).to.equal(null);
      expect(asObject(results)).to.deep.equal(expected);
    }
  });

  it('ships batches of at most batchPairsMax pairs', () => {
    const sim = cluster();
    const [err] = runJob(sim, wordCount, 'n1', { batchPairsMax: 1 });
    expect(err).to.equal(null);
    const kept = ['n1', 'n2', 'n3'].reduce((sum, id) => sum + handle(sim, id).worker.stats.batchesKept, 0);
    const pairs = Object.values(docs).join(' ').split(' ').length;
    expect(kept).to.equal(pairs);
  });

  it('out writes each result into the named group, at its owner', () => {
    const sim = mrCluster(3, docs, { extraGroups: ['counts'] });
    sim.runUntil(50);
    const [err] = runJob(sim, { ...wordCount, out: 'counts' });
    expect(err).to.equal(null);
    const stored: Record<string, unknown> = {};
    for (const id of ['n1', 'n2', 'n3']) {
      const store = handle(sim, id).engines.store;
      for (const k of store.keys('counts')) {
        expect(stored[k], `${k} stored once`).to.equal(undefined);
        stored[k] = store.get('counts', k)?.value;
      }
    }
    expect(asObject([stored])).to.deep.equal(expected);
  });

  it('rounds chain in place: round i output is round i+1 input, and intermediates are dropped', () => {
    const spec = {
      keys: ['a', 'b', 'c'],
      map: (k: string, v: number) => ({ [k]: v * 2 }),
      reduce: (k: string, vs: number[]) => ({ [k]: vs[0] }),
      rounds: 3,
    };
    const sim = mrCluster(3, { a: 1, b: 2, c: 3 });
    sim.runUntil(50);
    let job: Job | undefined;
    const [err, results] = settle<Record<string, unknown>[]>(sim, (cb) => (job = execJob(handle(sim, 'n1').node, gid, ['n1', 'n2', 'n3'], spec, cb)));
    expect(err).to.equal(null);
    expect(asObject(results)).to.deep.equal({ a: 8, b: 16, c: 24 });
    sim.runUntil(sim.now + 1_000);
    const id = (job as Job).id;
    for (const node of ['n1', 'n2', 'n3']) {
      for (let round = 0; round < 3; round++) {
        for (let p = 0; p < 6; p++) {
          for (const engine of ['mem', 'store'] as const) {
            const e = handle(sim, node).engines[engine];
            expect([...e.keys(shuffleGid(id, round, p)), ...e.keys(outputGid(id, round, p))]).to.deep.equal([]);
          }
        }
      }
    }
  });

  for (const [name, spec, code, key] of [
    ['map throws', { ...wordCount, map: (k: string, v: string) => { if (k === 'd3') throw new Error('bad doc'); return { [v]: 1 }; } }, 'E_MR_MAP_THREW', 'd3'],
    ['map answers a number', { ...wordCount, map: (k: string) => (k === 'd2' ? 42 : { [k]: 1 }) }, 'E_MR_MAP_SHAPE', 'd2'],
    ['reduce throws', { ...wordCount, reduce: (k: string) => { if (k === 'dog') throw new Error('no dogs'); return { [k]: 1 }; } }, 'E_MR_REDUCE_THREW', 'dog'],
    ['reduce answers null', { ...wordCount, reduce: (k: string) => (k === 'cat' ? null : { [k]: 1 }) }, 'E_MR_REDUCE_SHAPE', 'cat'],
    ['compact throws', { ...wordCount, compact: (k: string) => { if (k === 'zebra') throw new Error('z'); return { [k]: 1 }; } }, 'E_MR_COMPACT_THREW', 'zebra'],
  ] as const) {
    it(`${name}: the job fails with ${code} naming key ${key}; the nodes keep serving`, () => {
      const sim = cluster();
      const [err] = runJob(sim, spec);
      expect(hasCode(err, code), String(err)).to.equal(true);
      expect((err as unknown as { details: { key: string } }).details.key).to.equal(key);
      const [again, results] = runJob(sim, wordCount, 'n2');
      expect(again).to.equal(null);
      expect(asObject(results)).to.deep.equal(expected);
    });
  }

  it('a call over its time budget fails with E_MR_USER_SLOW naming the key (fake clock)', () => {
    let nowMs = 0;
    const slow = () => { nowMs += 50; return { x: 1 }; };
    const err = callUser('map', slow, 'k9', 'v', { now: () => nowMs, callMsMax: 10, taskMsMax: 1_000, taskStartMs: 0 });
    expect(hasCode(err, 'E_MR_USER_SLOW')).to.equal(true);
    expect((err as { details: { key: string } }).details.key).to.equal('k9');
    const budget = callUser('map', slow, 'k10', 'v', { now: () => nowMs, callMsMax: 100, taskMsMax: 60, taskStartMs: 0 });
    expect(hasCode(budget, 'E_MR_USER_TASK_BUDGET')).to.equal(true);
  });

  it('bad specs answer E_MR_BAD_SPEC naming the field', () => {
    const sim = cluster();
    for (const [spec, field] of [[{ ...wordCount, keys: 'x' }, 'keys'], [{ ...wordCount, map: 1 }, 'map'], [{ ...wordCount, rounds: 0 }, 'rounds'], [{ ...wordCount, out: 5 }, 'out']] as const) {
      const [err] = runJob(sim, spec);
      expect(hasCode(err, 'E_MR_BAD_SPEC')).to.equal(true);
      expect((err as unknown as { details: { field: string } }).details.field).to.equal(field);
    }
  });

  it('a key no member holds fails with E_MR_KEYS_MISSING naming it', () => {
    const [err] = runJob(cluster(), { ...wordCount, keys: [...wordCount.keys, 'ghost'] });
    expect(hasCode(err, 'E_MR_KEYS_MISSING')).to.equal(true);
    expect((err as unknown as { details: { keys: string[] } }).details.keys).to.deep.equal(['ghost']);
  });

  it('a holder that stays down: E_MR_DATA_UNREACHABLE naming its keys; with a replica the job succeeds', () => {
    const single = cluster();
    single.stop('n2');
    const [err] = runJob(single, wordCount, 'n1', { locateAttemptsMax: 2, attemptsMax: 2, taskTimeoutMs: 500 });
    expect(hasCode(err, 'E_MR_DATA_UNREACHABLE'), String(err)).to.equal(true);
    expect((err as unknown as { details: { nodes: string[] } }).details.nodes).to.include('n2');
    const replicated = cluster({ replicas: 2 });
    replicated.stop('n2');
    const [ok, results] = runJob(replicated, wordCount, 'n1', { locateAttemptsMax: 2, taskTimeoutMs: 500 });
    expect(ok).to.equal(null);
    expect(asObject(results)).to.deep.equal(expected);
  });

  it('two members silent through the locate: the job still ends, naming them (it used to wait forever)', () => {
    const sim = cluster({ replicas: 2 });
    sim.stop('n2');
    sim.stop('n3');
    const outcome = runJob(sim, wordCount, 'n1', { locateAttemptsMax: 2, attemptsMax: 2, taskTimeoutMs: 500 }, 30_000);
    expect(outcome, 'the job answered').to.not.equal(undefined);
    const [err] = outcome;
    expect(hasCode(err, 'E_MR_DATA_UNREACHABLE'), String(err)).to.equal(true);
    expect((err as unknown as { details: { nodes: string[] } }).details.nodes).to.include.members(['n2', 'n3']);
  });

  it('a worker crash mid-job: its map task re-runs on a replica and its partitions move; same result', () => {
    const sim = cluster({ replicas: 2 });
    sim.at(sim.now + 3, () => sim.crash('n3'));
    const [err, results] = runJob(sim, { ...wordCount, memory: true }, 'n1', { taskTimeoutMs: 500, backupAfterMs: 200 });
    expect(err).to.equal(null);
    expect(asObject(results)).to.deep.equal(expected);
  });

  it("a failure detector's dead verdict moves a crashed worker's work at once (nodeDown), not after deadlines; unsubscribed at the end", () => {
    const sim = cluster({ replicas: 2 });
    let listener: ((id: string, state: string, incarnation: number) => void) | undefined;
    useFailureDetector(handle(sim, 'n1').node, {
      onChange: (l) => {
        listener = l;
        return () => void (listener = undefined);
      },
    });
    sim.at(sim.now + 3, () => {
      sim.crash('n3');
      listener?.('n3', 'suspect', 1); // not a verdict
      listener?.('n3', 'dead', 1);
    });
    let job: Job | undefined;
    const [err, results] = settle<Record<string, unknown>[]>(sim, (cb) => {
      job = execJob(handle(sim, 'n1').node, gid, ['n1', 'n2', 'n3'], { ...wordCount, memory: true }, cb, { taskTimeoutMs: 60_000, backupAfterMs: 0 });
    }, 120_000);
    expect(err).to.equal(null);
    expect(asObject(results)).to.deep.equal(expected);
    expect([job?.stats.nodesDown, job?.stats.timeouts]).to.deep.equal([1, 0]);
    expect(listener).to.equal(undefined);
  });

  it('the Promise API resolves with the results', async () => {
    const sim = cluster();
    let results: Record<string, unknown>[] | undefined;
    sim.at(sim.now, () => void mapReduce(handle(sim, 'n1').node, gid, ['n1', 'n2', 'n3'], wordCount).then((r) => (results = r)));
    for (let i = 0; i < 100 && results === undefined; i++) {
      sim.runUntil(sim.now + 50);
      await Promise.resolve();
    }
    expect(asObject(results ?? [])).to.deep.equal(expected);
  });
});

describe('mapreduce group service (course style)', () => {
  it('distribution[gid].mr.exec(spec, cb) on `node` programs maps what the course group store put, and answers the results', () => {
    const c = simCluster(['n1', 'n2', 'n3']);
    const group = Object.fromEntries(['n1', 'n2', 'n3'].map((id) => [sidOf(id), { ip: id, port: 0 }]));
    for (const id of ['n1', 'n2', 'n3']) c.layer(id).table.put({ gid: 'g' }, group);
    // Input through the course's group store (routed by the group's hash), as course code puts it.
    for (const [k, v] of Object.entries(docs)) {
      const [putErr] = settle(c.sim, (cb) => (c.layer('n1').servicesFor('g')?.store as { put: Function }).put(v, k, cb));
      expect(putErr).to.equal(null);
    }
    const mr = c.layer('n2').servicesFor('g')?.mr as { exec: (spec: unknown, cb: (e: Error | null, v?: unknown) => void) => void };
    const [err, results] = settle<Record<string, unknown>[]>(c.sim, (cb) => mr.exec(wordCount, cb));
    expect(err).to.equal(null);
    expect(asObject(results)).to.deep.equal(expected);
  });

  it('out: results read back through the course group store of the out group', () => {
    const c = simCluster(['n1', 'n2', 'n3']);
    const group = Object.fromEntries(['n1', 'n2', 'n3'].map((id) => [sidOf(id), { ip: id, port: 0 }]));
    for (const id of ['n1', 'n2', 'n3']) for (const gid of ['g', 'counts']) c.layer(id).table.put({ gid }, group);
    const store = (gid: string) => c.layer('n3').servicesFor(gid)?.store as { put: Function; get: Function };
    for (const [k, v] of Object.entries(docs)) settle(c.sim, (cb) => store('g').put(v, k, cb));
    const mr = c.layer('n1').servicesFor('g')?.mr as { exec: Function };
    const [err] = settle(c.sim, (cb) => mr.exec({ ...wordCount, out: 'counts' }, cb));
    expect(err).to.equal(null);
    for (const [word, count] of Object.entries(expected)) {
      const [getErr, value] = settle(c.sim, (cb) => store('counts').get(word, cb));
      expect([getErr, value]).to.deep.equal([null, count]);
    }
  });
});
