/** The Env conformance suite against the simulator (src/sim public API), quiet plan unless a test asks
 * for a failing disk. Waiting runs simulator events, so "time" here is virtual. */
import type { Env, NodeId } from '../../src/env/index.js';
import { quietPlan, Simulation, webOrigin } from '../../src/sim/index.js';
import { describeEnvConformance, type EnvHarness } from './conformance.js';
import './programs.js';

/** Virtual milliseconds a test may wait for a condition. */
const waitMsMax = 60_000;

const simHarness: EnvHarness = {
  name: 'simulator',
  async start(ids, options) {
    const plan = options?.failingDisk === true ? { ...quietPlan(), diskFailChance: 1 } : quietPlan();
    const sim = new Simulation({ seed: 42, plan });
    const envs = new Map<NodeId, Env>();
    for (const id of ids) {
      sim.addNode(id, (env) => {
        envs.set(id, env);
        return {};
      });
    }
    const until = async (predicate: () => boolean, what: string): Promise<void> => {
      const deadlineMs = sim.now + waitMsMax;
      while (!predicate()) {
        if (sim.halt !== undefined) throw new Error(`simulation halted waiting for ${what}: ${JSON.stringify(sim.halt)}`);
        if (!sim.step() || sim.now > deadlineMs) throw new Error(`timed out (virtual) waiting for ${what}`);
      }
    };
    return {
      env: (id) => envs.get(id)!,
      until,
      advance: async (ms) => sim.runUntil(sim.now + ms),
      close: async () => {},
    };
  },
  failingBatch: () => [{ key: 'fine', value: new Uint8Array([1]) }, { key: 'also-fine', value: new Uint8Array([2]) }],
  webUrls: () => ({ ok: `${webOrigin}/`, missing: `${webOrigin}/nope` }),
};

describeEnvConformance(simHarness);
