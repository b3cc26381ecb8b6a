import { expect } from 'chai';
import type { Env, NodeProgram } from '../../src/env/index.js';
import { quietPlan, Simulation, type FaultPlan } from '../../src/sim/index.js';

/** A probe program that records what happens to it, for poking at one Env facility at a time. */
function probe(script: (env: Env, log: unknown[]) => void): (env: Env) => NodeProgram {
  return (env) => {
    const log: unknown[] = [];
    script(env, log);
    return { inspect: () => log };
  };
}

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

/** When n2 receives the one message n1 sends it at `sendAtMs` under `plan`, with `meddle` run first (it
 * may advance time, heal, crash ...), the run then going on to 500 ms. */
function arrivalsAtN2(plan: FaultPlan, sendAtMs: number, meddle: (sim: Simulation) => unknown): number[] {
  const sim = new Simulation({ seed: 1, plan, nodeIds: ['n1', 'n2'] });
  const times: number[] = [];
  sim.addNode('n2', probe((env) => env.net.listen('ch', () => times.push(env.clock.now()))));
  sim.addNode('n1', probe((env) => env.timers.set(sendAtMs, () => env.net.send('n2', 'ch', bytes(1)))));
  meddle(sim);
  sim.runUntil(500);
  return times;
}

describe('sim/simulation', () => {
  it('copies payloads on send, so sender and receiver never share bytes', () => {
    const sim = new Simulation({ seed: 1 });
    let received: Uint8Array | undefined;
    sim.addNode('n2', probe((env) => env.net.listen('ch', (_from, p) => (received = p))));
    const payload = bytes(1, 2, 3);
    sim.addNode('n1', probe((env) => env.net.send('n2', 'ch', payload)));
    payload[0] = 99; // mutate after send
    sim.runUntil(10);
    expect([...(received as Uint8Array)]).to.deep.equal([1, 2, 3]);
  });

  it('runs timers in virtual time and drops them with their node on a crash', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n1', probe((env, log) => {
      env.timers.set(10, () => log.push(['fired', env.clock.now()]));
      const cancelled = env.timers.set(5, () => log.push('cancelled timer fired'));
      env.timers.cancel(cancelled);
    }));
    sim.runUntil(20);
    expect(sim.inspect('n1')).to.deep.equal([['fired', 10]]);
    sim.addNode('n2', probe((env, log) => env.timers.set(10, () => log.push('fired'))));
    sim.crash('n2');
    sim.restart('n2'); // the factory runs again and sets a fresh timer
    sim.runUntil(25);
    expect(sim.inspect('n2')).to.deep.equal([]);
    sim.runUntil(31);
    expect(sim.inspect('n2')).to.deep.equal(['fired']);
    expect(sim.incarnation('n2')).to.equal(2);
  });

  it('keeps durable writes across a crash and loses unsynced ones', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n1', probe((env, log) => {
      if (env.disk.get('a') !== undefined) log.push('a survived');
      if (env.disk.get('b') !== undefined) log.push('b survived');
      env.disk.write([{ key: 'a', value: bytes(1) }], (r) => {
        log.push(['a durable', r.ok]);
        env.disk.write([{ key: 'b', value: bytes(2) }], () => log.push('b durable'));
        // read-your-writes before durability
        log.push(['b visible', env.disk.get('b')?.[0]]);
      });
    }));
    sim.runUntil(1); // quiet plan: 1 ms disk latency, so 'a' lands at t=1 and 'b' is pending
    expect(sim.inspect('n1')).to.deep.equal([['a durable', true], ['b visible', 2]]);
    sim.crash('n1');
    expect(sim.faults.unsyncedWriteLost).to.equal(1);
    sim.restart('n1');
    expect((sim.inspect('n1') as unknown[])[0]).to.equal('a survived');
    expect(sim.inspect('n1') as unknown[]).to.not.include('b survived');
  });

  it('undoes a failed disk write and reports a coded error', () => {
    const plan: FaultPlan = { ...quietPlan(), diskFailChance: 1 };
    const sim = new Simulation({ seed: 1, plan });
    sim.addNode('n1', probe((env, log) => {
      env.disk.write([{ key: 'k', value: bytes(7) }], (r) => log.push(r.ok ? 'ok' : r.error.code, env.disk.get('k') ?? 'gone'));
    }));
    sim.runUntil(5);
    expect(sim.inspect('n1')).to.deep.equal(['E_DISK_WRITE', 'gone']);
    expect(sim.faults.diskFail).to.equal(1);
  });

  it('scans keys in code-unit order within a range', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n1', probe((env, log) => {
      env.disk.write(['b', 'a', 'c', 'a2'].map((key) => ({ key, value: bytes(1) })), () => {
        log.push([...env.disk.scan({ start: 'a', end: 'c' })].map(([k]) => k));
        log.push([...env.disk.scan({ reverse: true, limit: 2 })].map(([k]) => k));
      });
    }));
    sim.runUntil(5);
    expect(sim.inspect('n1')).to.deep.equal([['a', 'a2', 'b'], ['c', 'b']]);
  });

  it('skews each node clock as the plan says, monotonically', () => {
    const plan: FaultPlan = { ...quietPlan(), clocks: [{ node: 'n1', offsetMs: 500, driftPpm: 100_000 }] };
    const sim = new Simulation({ seed: 1, plan, nodeIds: ['n1', 'n2'] });
    const reads: number[][] = [];
    sim.addNode('n1', probe((env) => env.timers.set(1000, () => reads.push([env.clock.now()]))));
    sim.addNode('n2', probe((env) => env.timers.set(1000, () => reads.push([env.clock.now()]))));
    sim.runUntil(1000);
    expect(reads).to.deep.equal([[1600], [1000]]);
    expect(sim.faults.clockSkew).to.equal(1);
  });

  it('delays what a slow node receives, while its timers and what it sends keep time; heal ends it', () => {
    const plan: FaultPlan = { ...quietPlan(), slowNodes: [{ atMs: 100, durationMs: 200, node: 'n2', lagMs: 50 }] };
    const sim = new Simulation({ seed: 1, plan, nodeIds: ['n1', 'n2'] });
    const arrivals: [string, number][] = [];
    sim.addNode('n1', probe((env) => {
      env.net.listen('ch', (_from, p) => arrivals.push([`n1<-${p[0]}`, env.clock.now()]));
      for (const t of [50, 150, 250, 400]) env.timers.set(t, () => env.net.send('n2', 'ch', bytes(t / 10)));
    }));
    sim.addNode('n2', probe((env) => {
      env.net.listen('ch', (_from, p) => arrivals.push([`n2<-${p[0]}`, env.clock.now()]));
      env.timers.set(150, () => env.net.send('n1', 'ch', bytes(99)));
    }));
    sim.runUntil(500);
    // Sent at 150 and 250 (inside the fault): 1 ms of latency plus 50 of lag; before and after: 1 ms.
    expect(arrivals).to.deep.equal([['n2<-5', 51], ['n1<-99', 151], ['n2<-15', 201], ['n2<-25', 301], ['n2<-40', 401]]);
    expect(sim.faults.slowInbound).to.equal(2);
    expect(arrivalsAtN2(plan, 150, (sim) => (sim.runUntil(120), sim.heal()))).to.deep.equal([151]);
  });

  it('a paused node runs nothing until the pause ends, then everything due, in order; a crash ends it', () => {
    const plan: FaultPlan = { ...quietPlan(), pauses: [{ atMs: 100, durationMs: 200, node: 'n2' }] };
    const sim = new Simulation({ seed: 1, plan, nodeIds: ['n1', 'n2'] });
    const log: [string, number][] = [];
    sim.addNode('n1', probe((env) => {
      for (const t of [50, 150, 250, 350]) env.timers.set(t, () => env.net.send('n2', 'ch', bytes(t / 10)));
    }));
    sim.addNode('n2', probe((env) => {
      env.net.listen('ch', (_from, p) => log.push([`msg ${p[0]}`, env.clock.now()]));
      env.timers.set(200, () => log.push(['timer', env.clock.now()]));
    }));
    sim.runUntil(500);
    expect(log).to.deep.equal([['msg 5', 51], ['msg 15', 300], ['timer', 300], ['msg 25', 300], ['msg 35', 351]]);
    expect(sim.faults.pause).to.equal(1);
    expect(sim.faults.pauseDeferred).to.equal(3);
    expect(arrivalsAtN2(plan, 180, (sim) => (sim.runUntil(150), sim.crash('n2'), sim.restart('n2')))).to.deep.equal([181]);
    // Due at 121, held by the pause, let go at the heal.
    expect(arrivalsAtN2(plan, 120, (sim) => (sim.runUntil(200), sim.heal()))).to.deep.equal([200]);
  });

  it('spawns nodes by registered program name and refuses unknown ones with a code', () => {
    const sim = new Simulation({ seed: 1 });
    const results: unknown[] = [];
    sim.addNode('n1', probe((env) => {
      env.hosts.spawn({ id: 'n9', program: 'broadcast', args: { peers: ['n1', 'n9'] } }, (r) => results.push(r.ok ? r.id : r.error.code));
      env.hosts.spawn({ id: 'n8', program: 'no-such-program' }, (r) => results.push(r.ok ? r.id : r.error.code));
    }));
    sim.runUntil(100);
    expect(results).to.deep.equal(['n9', 'E_UNKNOWN_PROGRAM']);
    expect(sim.isUp('n9')).to.equal(true);
  });

  it('serves a seeded synthetic web, the same for the same seed', () => {
    const fetchAll = (seed: number): unknown[] => {
      const sim = new Simulation({ seed });
      sim.addNode('n1', probe((env, log) => {
        for (const url of ['http://web.sim/p/3', 'http://web.sim/nope']) {
          env.web.get(url, (r) => log.push(r.ok ? [r.status, new TextDecoder().decode(r.body)] : r.error.code));
        }
      }));
      sim.runUntil(100);
      return sim.inspect('n1') as unknown[];
    };
    const a = fetchAll(5);
    expect(a).to.deep.equal(fetchAll(5));
    expect(a).to.not.deep.equal(fetchAll(6));
    expect((a[0] as [number, string])[0]).to.equal(200);
    expect((a[1] as [number, string])[0]).to.equal(404);
  });

  it('halts the run when node code throws, naming the node and the code', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('n1', probe((env) => env.timers.set(3, () => {
      throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
    })));
    sim.runUntil(10);
    expect(sim.halt).to.deep.include({ kind: 'node-threw', node: 'n1', code: 'E_BOOM' });
  });

  it('refuses payloads over the limit with E_NET_TOO_LARGE', () => {
    const sim = new Simulation({ seed: 1, payloadBytesMax: 4 });
    sim.addNode('n1', probe((env) => env.net.send('n1', 'ch', new Uint8Array(5))));
    expect(sim.halt).to.deep.include({ kind: 'node-threw', code: 'E_NET_TOO_LARGE' });
  });

  it('validates plans up front with E_SIM_CONFIG naming the field', () => {
    const bad = { ...quietPlan(), lossChance: 2 };
    expect(() => new Simulation({ seed: 1, plan: bad })).to.throw().with.property('code', 'E_SIM_CONFIG');
    try {
      new Simulation({ seed: 1, plan: bad });
    } catch (err) {
      expect((err as { details: { field: string } }).details.field).to.equal('lossChance');
    }
    const slow = { ...quietPlan(), slowNodes: [{ atMs: 0, durationMs: 10, node: 'n1', lagMs: -5 }] };
    expect(() => new Simulation({ seed: 1, plan: slow })).to.throw().with.nested.property('details.field', 'slowNodes.lagMs');
    const stranger = { ...quietPlan(), slowNodes: [{ atMs: 0, durationMs: 10, node: 'n9', lagMs: 5 }] };
    expect(() => new Simulation({ seed: 1, plan: stranger, nodeIds: ['n1'] })).to.throw().with.nested.property('details.field', 'slowNodes.node');
  });
});
