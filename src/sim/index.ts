/**
 * The deterministic simulator: one process, virtual time, one seed that decides everything.
 *
 * Low level (for the Env conformance suite and probe programs):
 *
 *   const sim = new Simulation({ seed: 7 });                 // no faults; or { seed, plan, nodeIds }
 *   sim.addNode('n1', factoryOrProgramName, args);           // boots now: factory(env, args)
 *   const c = sim.client('c1');                              // an outside client on the same network
 *   c.listen('ch', (from, bytes) => ...); c.send('n1', 'ch', bytes);
 *   sim.at(100, () => ...);                                  // a simulator action at virtual ms 100
 *   sim.runUntil(1_000);                                     // dispatch events due by t=1000
 *   sim.step();                                              // or one event at a time
 *   sim.crash('n1'); sim.restart('n1'); sim.stop('n1');      // memory/timers gone; disk kept
 *   sim.heal();                                              // end the fault phase
 *   sim.inspect('n1');                                       // the program's inspect()
 *   sim.now, sim.events, sim.traceHash, sim.faults, sim.halt, sim.isUp(id), sim.incarnation(id)
 *
 *   Each node gets an Env whose clock is virtual (skewed per the plan), whose timers die with the node,
 *   whose random stream is forked from the seed by node id and incarnation, whose net copies every
 *   payload on send, whose disk is durable only after onDurable (pending writes are lost on crash),
 *   whose hosts spawn nodes by registered program name (src/lib/programs.ts), and whose web is a
 *   seeded synthetic site (web.ts). Exceptions thrown by node code halt the run (`halt.kind = 'node-threw'`).
 *
 * Fault plans (faults.ts): `drawPlan(profile, random, nodeIds, durationMs)` draws concrete rates and a
 * schedule from the ranges of `none` / `light` / `heavy`; pass the plan to `new Simulation({ plan })`.
 *
 * High level (what the CLI runs):
 *
 *   runScenario(resolveConfig({ seed, workload, faults, nodes, durationMs }), { traceFile })
 *     -> RunResult { result: 'ok'|'safety'|'liveness', traceHash, events, simTimeMs, faultsInjected, ... }
 *   replayTrace(file), checkDeterminism(config), sweep(config, from, to), findAndShrink({ workload })
 *   registerWorkload({ name, program, defaults, nodeArgs, create }) plugs in a new workload.
 *
 * src/sim never imports src/runtime, and the other way round.
 */
export { Simulation, type Halt, type SimClientHandle, type SimulationOptions, payloadBytesMaxDefault } from './simulation.js';
export {
  drawPlan, faultKinds, profileNames, profiles, quietPlan, totalFaults, validatePlan, zeroFaultCounts,
  type ClockFault, type ClogFault, type CrashFault, type FaultCounts, type FaultKind, type FaultPlan, type PartitionFault, type PauseFault, type ProfileName, type SlowNodeFault,
} from './faults.js';
export { SimRandom } from './random.js';
export { EventQueue } from './event-queue.js';
export { RollingHash, bytesHash32 } from './hash.js';
export { canonicalJson, readTrace, FileSink, MemorySink, Tracer, type TraceFile, type TraceSink } from './trace.js';
export { SimWeb, webOrigin } from './web.js';
export { defaultTraceFile, nodeIdsFor, planFor, resolveConfig, runScenario, type RunConfig, type RunOptions, type RunResult, type Verdict } from './run.js';
export { checkDeterminism, configFromHeader, firstDivergence, replayTrace, type DeterminismResult, type Divergence, type ReplayResult } from './replay.js';
export { parseSeedRange, reproCommand, sweep, type SweepFailure, type SweepResult } from './sweep.js';
export { findAndShrink, regressionsDir, scenarioArbitrary, scenarioConfig, type Scenario, type ShrinkResult } from './shrink.js';
export { getWorkload, registerWorkload, workloadNames, type Violation, type Workload, type WorkloadContext, type WorkloadDefaults, type WorkloadRun } from './workload.js';
