/** The pure round table: scheduling, re-execution, backups, reassignment, failures; a property run
 * over random answer orders and faults. */
import { expect } from 'chai';
import fc from 'fast-check';
import { DistError } from '../../../src/lib/errors.js';
import { partitionOf, RoundTable, type Action, type MapAction, type ReduceAction, type RoundConfig } from '../../../src/protocols/mapreduce/core.js';

const config = (over: Partial<RoundConfig> = {}): RoundConfig => ({
  partitions: 2, members: ['a', 'b', 'c'], attemptsMax: 3, taskTimeoutMs: 1_000, backupAfterMs: 0, suspectMs: 500, mapSlotsPerNode: 2, ...over,
});
const source = (nodes: string[], keys = ['k1', 'k2']) => ({ gid: 'g', keys, nodes, engine: 'store' as const });
const maps = (actions: Action[]) => actions.filter((a): a is MapAction => a.kind === 'map');
const reduces = (actions: Action[]) => actions.filter((a): a is ReduceAction => a.kind === 'reduce');
const allBatches = (n: number) => Array.from({ length: n }, () => 1);

describe('mapreduce core: RoundTable', () => {
  it('partitionOf is stable and in range', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (key, n) => {
      const p = partitionOf(key, n);
      return p === partitionOf(key, n) && p >= 0 && p < n && Number.isInteger(p);
    }));
  });

  it('runs maps where the data is, then one reduce per partition with a full manifest', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a']));
    t.addMapTask(source(['b']));
    const first = t.poll(0);
    expect(maps(first).map((m) => m.node)).to.deep.equal(['a', 'b']);
    expect(reduces(first)).to.have.length(0);
    for (const m of maps(first)) t.mapSucceeded(m.task, m.attempt, [2, 0]);
    const second = reduces(t.poll(10));
    expect(second.map((r) => r.node)).to.deep.equal(['a', 'b']);
    expect(second[0]?.manifest).to.deep.equal([['m000000', 1, 2], ['m000001', 2, 2]]);
    expect(second[1]?.manifest.map(([, , n]) => n)).to.deep.equal([0, 0]);
    second.forEach((r) => t.reduceSucceeded(r.partition, r.attempt, `r${r.partition}`));
    expect(t.outcome()).to.deep.equal({ kind: 'done', results: ['r0', 'r1'] });
    expect(t.poll(20)).to.deep.equal([]);
  });

  it('re-executes a map attempt that misses its deadline on another holder (§3.3)', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a', 'b']));
    const [m1] = maps(t.poll(0));
    expect(t.poll(999)).to.deep.equal([]);
    const [m2] = maps(t.poll(1_000));
    expect(m2?.node).to.equal('b');
    expect(m2?.attempt).to.not.equal(m1?.attempt);
    expect(t.stats.timeouts).to.equal(1);
  });

  it('gives a straggler one backup on another holder; the first answer wins (§3.6)', () => {
    const t = new RoundTable(config({ backupAfterMs: 300 }));
    t.addMapTask(source(['a', 'b']));
    const [m1] = maps(t.poll(0));
    const [backup] = maps(t.poll(300));
    expect(backup?.backup).to.equal(true);
    expect(backup?.node).to.equal('b');
    expect(maps(t.poll(400))).to.have.length(0);
    t.mapSucceeded(backup!.task, backup!.attempt, allBatches(2));
    t.mapSucceeded(m1!.task, m1!.attempt, allBatches(2)); // late original: ignored
    const rs = reduces(t.poll(500));
    expect(rs.map((r) => r.manifest[0]?.[1])).to.deep.equal([backup!.attempt, backup!.attempt]);
  });

  it('moves a failed reduce to another member and re-ships its partition from every map task', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a']));
    t.addMapTask(source(['b']));
    for (const m of maps(t.poll(0))) t.mapSucceeded(m.task, m.attempt, allBatches(2));
    const [r0] = reduces(t.poll(1));
    t.reduceFailed(r0!.partition, r0!.attempt, new DistError('E_NODE_TIMEOUT', 'x'), 1);
    const again = t.poll(2);
    expect(maps(again).map((m) => m.partitions)).to.deep.equal([[0], [0]]);
    expect(maps(again)[0]?.owners[0]).to.not.equal('a');
    for (const m of maps(again)) t.mapSucceeded(m.task, m.attempt, allBatches(2));
    const [moved] = reduces(t.poll(3));
    expect(moved?.node).to.equal(maps(again)[0]?.owners[0]);
    expect(t.stats.reassigned).to.equal(1);
  });

  it('re-ships only the map output a reducer reports missing', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a']));
    t.addMapTask(source(['b']));
    for (const m of maps(t.poll(0))) t.mapSucceeded(m.task, m.attempt, allBatches(2));
    const [r0] = reduces(t.poll(1));
    t.reduceMissing(r0!.partition, r0!.attempt, ['m000001']);
    const again = maps(t.poll(2));
    expect(again.map((m) => [m.task, m.partitions])).to.deep.equal([['m000001', [0]]]);
  });

  it('nodeDown: attempts there fail at once and its partitions move', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a', 'b']));
    const [m1] = maps(t.poll(0));
    t.nodeDown('a', 10);
    const again = maps(t.poll(11));
    expect(again.map((m) => m.node)).to.deep.equal(['b']);
    // p0 moves to the member owning the fewest partitions (c owns none; b owns p1).
    expect(again[0]?.owners[0]).to.equal('c');
    expect(m1?.owners[0]).to.equal('a');
  });

  it('slots: a node runs at most mapSlotsPerNode map attempts; waiting tasks go to whichever holder frees a slot', () => {
    const t = new RoundTable(config({ mapSlotsPerNode: 1 }));
    for (let i = 0; i < 4; i++) t.addMapTask(source(['a', 'b']));
    const first = maps(t.poll(0));
    expect(first.map((m) => [m.task, m.node])).to.deep.equal([['m000000', 'a'], ['m000001', 'b']]);
    expect(maps(t.poll(1))).to.have.length(0);
    const onB = first[1] as MapAction;
    t.mapSucceeded(onB.task, onB.attempt, allBatches(2));
    expect(maps(t.poll(2)).map((m) => [m.task, m.node])).to.deep.equal([['m000002', 'b']]);
  });

  it('slots: tasks are offered round robin over holder sets, so no holder set is left to one node at the end', () => {
    const t = new RoundTable(config({ mapSlotsPerNode: 1 }));
    for (let i = 0; i < 2; i++) t.addMapTask(source(['a', 'b']));
    for (let i = 0; i < 2; i++) t.addMapTask(source(['b', 'c']));
    // m000002 is offered before m000001: a takes m000000, b takes m000002, and c gets m000003.
    expect(maps(t.poll(0)).map((m) => [m.task, m.node])).to.deep.equal([['m000000', 'a'], ['m000002', 'b'], ['m000003', 'c']]);
  });

  it('a partial map answer records the delivered partitions; only the failed one moves and is re-shipped, where the output is kept', () => {
    const t = new RoundTable(config({ partitions: 3 }));
    t.addMapTask(source(['a', 'b']));
    const [m1] = maps(t.poll(0));
    expect(m1?.owners).to.deep.equal(['a', 'b', 'c']);
    t.mapSucceeded(m1!.task, m1!.attempt, [1, 1]); // p2 undelivered
    t.shuffleFailed(2, 'c', 1);
    const second = t.poll(2);
    const [m2] = maps(second);
    // p2 moves to a (a and b own one partition each; a comes first after c).
    expect([m2?.node, m2?.partitions, m2?.owners[2]]).to.deep.equal(['a', [2], 'a']);
    t.mapSucceeded(m2!.task, m2!.attempt, [undefined as unknown as number, undefined as unknown as number, 4]);
    const rs = [...reduces(second), ...reduces(t.poll(3))]; // p0 and p1 were complete already
    expect(rs.map((r) => [r.partition, r.node, r.manifest])).to.deep.equal([[0, 'a', [['m000000', 1, 1]]], [1, 'b', [['m000000', 1, 1]]], [2, 'a', [['m000000', 2, 4]]]]);
  });

  it("nodeDown spreads the dead node's partitions over the survivors", () => {
    const t = new RoundTable(config({ partitions: 6 }));
    t.addMapTask(source(['a']));
    t.poll(0);
    t.nodeDown('c', 1);
    expect(t.owners()).to.deep.equal(['a', 'b', 'a', 'a', 'b', 'b']);
  });

  it('a reduce running longer than backupAfterMs gets a backup: map tasks ship the partition there too, the first answer wins (§3.6)', () => {
    const t = new RoundTable(config({ partitions: 1, backupAfterMs: 300 }));
    t.addMapTask(source(['a']));
    t.addMapTask(source(['b']));
    for (const m of maps(t.poll(0))) t.mapSucceeded(m.task, m.attempt, [1]);
    const [primary] = reduces(t.poll(10));
    expect(primary?.node).to.equal('a');
    expect(t.poll(309)).to.deep.equal([]);
    t.poll(310); // the backup destination is chosen: b or c own no partition; b comes first
    const copies = maps(t.poll(311));
    expect(copies.map((m) => [m.node, m.partitions, m.copies])).to.deep.equal([['a', [], [[0, 'b']]], ['b', [], [[0, 'b']]]]);
    for (const m of copies) t.mapSucceeded(m.task, m.attempt, [], [2]);
    const [backup] = reduces(t.poll(320));
    expect([backup?.node, backup?.manifest.map(([, , n]) => n)]).to.deep.equal(['b', [2, 2]]);
    t.reduceSucceeded(0, backup!.attempt, 'from b');
    t.reduceSucceeded(0, primary!.attempt, 'from a'); // late: ignored
    expect(t.outcome()).to.deep.equal({ kind: 'done', results: ['from b'] });
    expect([t.producerOf(0), t.stats.reduceBackups]).to.deep.equal(['b', 1]);
  });

  it('a failed reduce backup only ends the backup; the owner goes on and no partition moves', () => {
    const t = new RoundTable(config({ partitions: 1, backupAfterMs: 300 }));
    t.addMapTask(source(['a']));
    for (const m of maps(t.poll(0))) t.mapSucceeded(m.task, m.attempt, [1]);
    const [primary] = reduces(t.poll(10));
    t.poll(310);
    for (const m of maps(t.poll(311))) t.mapSucceeded(m.task, m.attempt, [], [1]);
    const [backup] = reduces(t.poll(312));
    t.reduceFailed(0, backup!.attempt, new DistError('E_NODE_TIMEOUT', 'x'), 313);
    expect(t.poll(400)).to.deep.equal([]);
    t.reduceSucceeded(0, primary!.attempt, 'from a');
    expect([t.outcome().kind, t.producerOf(0), t.stats.reassigned]).to.deep.equal(['done', 'a', 0]);
  });

  it('fails at once on a user-function error, keeping its key', () => {
    const t = new RoundTable(config());
    t.addMapTask(source(['a']));
    const [m] = maps(t.poll(0));
    t.mapFailed(m!.task, m!.attempt, new DistError('E_MR_MAP_THREW', 'boom', { key: 'k2' }), 1);
    const outcome = t.outcome();
    expect(outcome.kind).to.equal('failed');
    if (outcome.kind === 'failed') expect([outcome.error.code, outcome.error.details?.key]).to.deep.equal(['E_MR_MAP_THREW', 'k2']);
  });

  it('names lost data when every holder lacks it, unreachable data when none answers', () => {
    const lost = new RoundTable(config());
    lost.addMapTask(source(['a', 'b'], ['x', 'y']));
    for (let i = 0; i < 2; i++) for (const m of maps(lost.poll(i))) lost.mapFailed(m.task, m.attempt, new DistError('E_MR_KEYS_MISSING', 'no'), i);
    lost.poll(3);
    const o1 = lost.outcome();
    expect(o1.kind === 'failed' && [o1.error.code, o1.error.details?.keys]).to.deep.equal(['E_MR_DATA_LOST', ['x', 'y']]);
    const silent = new RoundTable(config({ attemptsMax: 2 }));
    silent.addMapTask(source(['a']));
    for (let t = 0; t <= 3_000; t += 1_000) silent.poll(t);
    const o2 = silent.outcome();
    expect(o2.kind === 'failed' && o2.error.code).to.equal('E_MR_DATA_UNREACHABLE');
  });

  it('property: under random answers, timeouts and failures a round ends done with a complete manifest per reduce, or failed with a code', () => {
    const answer = fc.constantFrom('ok', 'ok', 'ok', 'fail', 'late', 'missing', 'drop');
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.array(answer, { minLength: 1, maxLength: 200 }), (tasks, partitions, answers) => {
      const t = new RoundTable(config({ partitions, attemptsMax: 50, backupAfterMs: 700 }));
      for (let i = 0; i < tasks; i++) t.addMapTask(source(i % 2 === 0 ? ['a', 'b'] : ['c']));
      let now = 0;
      let i = 0;
      const inFlight: Action[] = [];
      for (let step = 0; step < 2_000 && t.outcome().kind === 'running'; step++) {
        for (const a of t.poll(now)) {
          if (a.kind === 'reduce') expect(a.manifest.length).to.equal(tasks);
          inFlight.push(a);
        }
        const a = inFlight.shift();
        now += 100;
        if (a === undefined) continue;
        const kind = answers[i++ % answers.length];
        if (kind === 'drop') continue;
        if (kind === 'late') now += 1_000;
        if (a.kind === 'map') {
          if (kind === 'fail') t.mapFailed(a.task, a.attempt, new DistError('E_NODE_TIMEOUT', 'x'), now);
          else t.mapSucceeded(a.task, a.attempt, allBatches(partitions));
        } else if (kind === 'fail') t.reduceFailed(a.partition, a.attempt, new DistError('E_NODE_TIMEOUT', 'x'), now);
        else if (kind === 'missing') t.reduceMissing(a.partition, a.attempt, ['m000000']);
        else t.reduceSucceeded(a.partition, a.attempt, a.partition);
      }
      const outcome = t.outcome();
      if (outcome.kind === 'done') expect(outcome.results).to.deep.equal(Array.from({ length: partitions }, (_, p) => p));
      if (outcome.kind === 'failed') expect(outcome.error.code).to.match(/^E_MR_/);
    }), { numRuns: 200 });
  });
});
