/**
 * Fault profiles and fault plans.
 *
 * A *profile* (`none`, `light`, `heavy`) is a set of ranges. A *plan* is one concrete draw from those
 * ranges for one seed: rates (loss, duplication, ...) plus a schedule of timed faults (partitions,
 * clogged links, crashes). The plan is plain JSON: it goes into the trace header, replay runs the plan
 * from the header (so changing a profile's ranges later never breaks an old trace), and shrinking
 * minimizes plans directly.
 */
import type { NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import type { SimRandom } from './random.js';

export type ProfileName = 'none' | 'light' | 'heavy';
export const profileNames: readonly ProfileName[] = ['none', 'light', 'heavy'];

export type PartitionKind = 'one-way' | 'two-way';

/** `side` is cut from every other node. Two-way: nothing crosses. One-way: `side` cannot send out,
 * but still hears the rest (the asymmetric case that breaks naive failure detectors). */
export interface PartitionFault {
  readonly atMs: number;
  readonly durationMs: number;
  readonly kind: PartitionKind;
  readonly side: readonly NodeId[];
}

/** Messages from `from` to `to` sent while the link is clogged are held, then all released at once. */
export interface ClogFault {
  readonly atMs: number;
  readonly durationMs: number;
  readonly from: NodeId;
  readonly to: NodeId;
}

/** The node crashes at `atMs` (memory and timers gone, unsynced writes lost) and restarts after `downMs`. */
export interface CrashFault {
  readonly atMs: number;
  readonly node: NodeId;
  readonly downMs: number;
}

/**
 * While active, every message delivered to `node` arrives `lagMs` later than it otherwise would: a node
 * that reads its input late (CPU-starved, paging, a long GC), while its own timers still fire on time,
 * so it takes its peers for slow (the failure Lifeguard's local health addresses). Optional in a plan:
 * plans written before it existed have none.
 */
export interface SlowNodeFault {
  readonly atMs: number;
  readonly durationMs: number;
  readonly node: NodeId;
  readonly lagMs: number;
}

/**
 * The node stops running for `durationMs` (a stop-the-world GC pause, a VM migration, SIGSTOP): what is
 * due to it meanwhile (messages, timers, disk completions) waits and then runs, in order, when it
 * resumes; its clock keeps going, so it finds time has jumped. A crash or the heal ends the pause.
 * Optional in a plan: plans written before it existed have none.
 */
export interface PauseFault {
  readonly atMs: number;
  readonly durationMs: number;
  readonly node: NodeId;
}

export interface ClockFault {
  readonly node: NodeId;
  /** Added to the node's clock reading. */
  readonly offsetMs: number;
  /** Parts per million by which the node's clock runs fast (positive) or slow (negative). */
  readonly driftPpm: number;
}

export interface FaultPlan {
  readonly profile: string;
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
  /** Chance that a message gets an extra tail delay in [0, latencyTailMsMax). */
  readonly latencyTailChance: number;
  readonly latencyTailMsMax: number;
  readonly lossChance: number;
  readonly duplicateChance: number;
  /** Chance that a message is held back by up to reorderDelayMsMax so later ones overtake it. */
  readonly reorderChance: number;
  readonly reorderDelayMsMax: number;
  readonly diskWriteMsMin: number;
  readonly diskWriteMsMax: number;
  readonly diskSlowChance: number;
  readonly diskSlowMsMax: number;
  readonly diskFailChance: number;
  readonly clocks: readonly ClockFault[];
  readonly partitions: readonly PartitionFault[];
  readonly clogs: readonly ClogFault[];
  readonly crashes: readonly CrashFault[];
  readonly slowNodes?: readonly SlowNodeFault[];
  readonly pauses?: readonly PauseFault[];
}

type Span = readonly [number, number];

interface ProfileRanges {
  readonly latencyMsMin: Span;
  readonly latencyMsMax: Span;
  readonly latencyTailChance: Span;
  readonly latencyTailMsMax: Span;
  readonly lossChance: Span;
  readonly duplicateChance: Span;
  readonly reorderChance: Span;
  readonly reorderDelayMsMax: Span;
  readonly diskWriteMsMin: Span;
  readonly diskWriteMsMax: Span;
  readonly diskSlowChance: Span;
  readonly diskSlowMsMax: Span;
  readonly diskFailChance: Span;
  readonly clockOffsetMsMax: Span;
  readonly clockDriftPpmMax: Span;
  /** Counts are per 10 simulated seconds, scaled to the run's duration. */
  readonly partitionsPer10s: Span;
  readonly partitionMs: Span;
  readonly oneWayShare: Span;
  readonly clogsPer10s: Span;
  readonly clogMs: Span;
  readonly crashesPer10s: Span;
  readonly crashDownMs: Span;
  readonly slowNodesPer10s: Span;
  readonly slowNodeMs: Span;
  readonly slowLagMs: Span;
  readonly pausesPer10s: Span;
  readonly pauseMs: Span;
}

const zero: Span = [0, 0];

/** The ranges each profile draws from. Documented in docs/simulator.md; keep the two in step. */
export const profiles: Readonly<Record<ProfileName, ProfileRanges>> = {
  none: {
    latencyMsMin: [1, 1], latencyMsMax: [1, 5], latencyTailChance: zero, latencyTailMsMax: zero,
    lossChance: zero, duplicateChance: zero, reorderChance: zero, reorderDelayMsMax: zero,
    diskWriteMsMin: [1, 1], diskWriteMsMax: [1, 3], diskSlowChance: zero, diskSlowMsMax: zero, diskFailChance: zero,
    clockOffsetMsMax: zero, clockDriftPpmMax: zero,
    partitionsPer10s: zero, partitionMs: zero, oneWayShare: zero, clogsPer10s: zero, clogMs: zero,
    crashesPer10s: zero, crashDownMs: zero,
    slowNodesPer10s: zero, slowNodeMs: zero, slowLagMs: zero,
    pausesPer10s: zero, pauseMs: zero,
  },
  light: {
    latencyMsMin: [1, 3], latencyMsMax: [5, 30], latencyTailChance: [0, 0.01], latencyTailMsMax: [50, 200],
    lossChance: [0, 0.02], duplicateChance: [0, 0.01], reorderChance: [0, 0.05], reorderDelayMsMax: [5, 50],
    diskWriteMsMin: [1, 2], diskWriteMsMax: [2, 10], diskSlowChance: [0, 0.02], diskSlowMsMax: [20, 100], diskFailChance: [0, 0.005],
    clockOffsetMsMax: [0, 100], clockDriftPpmMax: [0, 100],
    partitionsPer10s: [0, 1], partitionMs: [100, 1000], oneWayShare: [0, 0.5], clogsPer10s: [0, 1], clogMs: [50, 500],
    crashesPer10s: [0, 1], crashDownMs: [100, 1000],
    slowNodesPer10s: [0, 0.5], slowNodeMs: [200, 1000], slowLagMs: [10, 200],
    pausesPer10s: [0, 0.5], pauseMs: [20, 300],
  },
  heavy: {
    latencyMsMin: [1, 10], latencyMsMax: [20, 150], latencyTailChance: [0.01, 0.05], latencyTailMsMax: [200, 1000],
    lossChance: [0.05, 0.25], duplicateChance: [0.02, 0.1], reorderChance: [0.05, 0.25], reorderDelayMsMax: [20, 300],
    diskWriteMsMin: [1, 5], diskWriteMsMax: [5, 40], diskSlowChance: [0.05, 0.2], diskSlowMsMax: [100, 1000], diskFailChance: [0.01, 0.08],
    clockOffsetMsMax: [100, 5000], clockDriftPpmMax: [100, 2000],
    partitionsPer10s: [2, 6], partitionMs: [200, 3000], oneWayShare: [0.25, 0.75], clogsPer10s: [2, 5], clogMs: [100, 2000],
    crashesPer10s: [1, 4], crashDownMs: [50, 3000],
    slowNodesPer10s: [1, 3], slowNodeMs: [500, 5000], slowLagMs: [50, 2000],
    pausesPer10s: [1, 3], pauseMs: [100, 3000],
  },
};

/** Chances are rounded to this many decimals so headers stay readable; the rounded value is the plan. */
const chanceDecimals = 4;

function drawChance(random: SimRandom, span: Span): number {
  return Number(random.range(span[0], span[1]).toFixed(chanceDecimals));
}

function drawInt(random: SimRandom, span: Span): number {
  return span[1] <= span[0] ? span[0] : random.int(span[0], span[1] + 1);
}

function drawCount(random: SimRandom, span: Span, durationMs: number): number {
  const rate = random.range(span[0], span[1]);
  return Math.round((rate * durationMs) / 10_000);
}

/** Draws one concrete plan from `profile`'s ranges. Every number comes from `random`, so the seed
 * decides the plan. Timed faults start inside [0, durationMs) and never overlap the liveness phase. */
export function drawPlan(profile: ProfileName, random: SimRandom, nodeIds: readonly NodeId[], durationMs: number): FaultPlan {
  const r = profiles[profile];
  assert(r !== undefined, `unknown profile ${profile}`);
  assert(durationMs > 0, 'durationMs must be positive');
  const latencyMsMin = drawInt(random, r.latencyMsMin);
  const diskWriteMsMin = drawInt(random, r.diskWriteMsMin);
  const plan: FaultPlan = {
    profile,
    latencyMsMin,
    latencyMsMax: Math.max(latencyMsMin, drawInt(random, r.latencyMsMax)),
    latencyTailChance: drawChance(random, r.latencyTailChance),
    latencyTailMsMax: drawInt(random, r.latencyTailMsMax),
    lossChance: drawChance(random, r.lossChance),
    duplicateChance: drawChance(random, r.duplicateChance),
    reorderChance: drawChance(random, r.reorderChance),
    reorderDelayMsMax: drawInt(random, r.reorderDelayMsMax),
    diskWriteMsMin,
    diskWriteMsMax: Math.max(diskWriteMsMin, drawInt(random, r.diskWriteMsMax)),
    diskSlowChance: drawChance(random, r.diskSlowChance),
    diskSlowMsMax: drawInt(random, r.diskSlowMsMax),
    diskFailChance: drawChance(random, r.diskFailChance),
    clocks: drawClocks(random.fork('clocks'), r, nodeIds),
    partitions: drawPartitions(random.fork('partitions'), r, nodeIds, durationMs),
    clogs: drawClogs(random.fork('clogs'), r, nodeIds, durationMs),
    crashes: drawCrashes(random.fork('crashes'), r, nodeIds, durationMs),
  };
  // Drawn from a stream of its own, like each timed fault, so the other faults of a seed stay as they were.
  const slowNodes = drawSlowNodes(random.fork('slowNodes'), r, nodeIds, durationMs);
  const pauses = drawPauses(random.fork('pauses'), r, nodeIds, durationMs);
  return { ...plan, ...(slowNodes.length === 0 ? {} : { slowNodes }), ...(pauses.length === 0 ? {} : { pauses }) };
}



function drawClocks(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[]): ClockFault[] {
  const offsetMsMax = drawInt(random, r.clockOffsetMsMax);
  const driftPpmMax = drawInt(random, r.clockDriftPpmMax);
  if (offsetMsMax === 0 && driftPpmMax === 0) return [];
  return nodeIds.map((node) => ({
    node,
    offsetMs: random.int(-offsetMsMax, offsetMsMax + 1),
    driftPpm: random.int(-driftPpmMax, driftPpmMax + 1),
  }));
}

/** A start time inside the safety phase, leaving its last tenth fault-free so the heal is clean. */
function drawStartMs(random: SimRandom, durationMs: number): number {
  return random.int(0, Math.max(1, Math.floor(durationMs * 0.9)));
}

function drawPartitions(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[], durationMs: number): PartitionFault[] {
  if (nodeIds.length < 2) return [];
  const count = drawCount(random, r.partitionsPer10s, durationMs);
  const oneWayShare = random.range(r.oneWayShare[0], r.oneWayShare[1]);
  const partitions: PartitionFault[] = [];
  for (let i = 0; i < count; i++) {
    const sideSize = random.int(1, Math.floor(nodeIds.length / 2) + 1);
    const side = shuffled(random, nodeIds).slice(0, sideSize).sort();
    partitions.push({
      atMs: drawStartMs(random, durationMs),
      durationMs: drawInt(random, r.partitionMs),
      kind: random.float() < oneWayShare ? 'one-way' : 'two-way',
      side,
    });
  }
  return partitions.sort((a, b) => a.atMs - b.atMs);
}



/** `span` (per 10 s) timed faults over the run, each made by `make`, in start order. */
function drawTimed<T extends { readonly atMs: number }>(random: SimRandom, per10s: Span, durationMs: number, make: () => T): T[] {
  const count = drawCount(random, per10s, durationMs);
  return Array.from({ length: count }, make).sort((a, b) => a.atMs - b.atMs);
}

function drawClogs(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[], durationMs: number): ClogFault[] {
  if (nodeIds.length < 2) return [];
  return drawTimed(random, r.clogsPer10s, durationMs, () => {
    const [from, to] = shuffled(random, nodeIds) as [NodeId, NodeId];
    return { atMs: drawStartMs(random, durationMs), durationMs: drawInt(random, r.clogMs), from, to };
  });
}

function drawCrashes(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[], durationMs: number): CrashFault[] {
  return drawTimed(random, r.crashesPer10s, durationMs, () => ({ atMs: drawStartMs(random, durationMs), node: random.pick(nodeIds), downMs: drawInt(random, r.crashDownMs) }));
}

function drawSlowNodes(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[], durationMs: number): SlowNodeFault[] {
  return drawTimed(random, r.slowNodesPer10s, durationMs, () => ({
    atMs: drawStartMs(random, durationMs), durationMs: drawInt(random, r.slowNodeMs), node: random.pick(nodeIds), lagMs: drawInt(random, r.slowLagMs),
  }));
}

function drawPauses(random: SimRandom, r: ProfileRanges, nodeIds: readonly NodeId[], durationMs: number): PauseFault[] {
  return drawTimed(random, r.pausesPer10s, durationMs, () => ({ atMs: drawStartMs(random, durationMs), durationMs: drawInt(random, r.pauseMs), node: random.pick(nodeIds) }));
}

function shuffled<T>(random: SimRandom, items: readonly T[]): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.int(0, i + 1);
    const t = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = t;
  }
  return copy;
}

/** The plan with no faults at all: fixed 1 ms latency and disk. Used when a caller gives none. */
export function quietPlan(): FaultPlan {
  return {
    profile: 'none', latencyMsMin: 1, latencyMsMax: 1, latencyTailChance: 0, latencyTailMsMax: 0,
    lossChance: 0, duplicateChance: 0, reorderChance: 0, reorderDelayMsMax: 0,
    diskWriteMsMin: 1, diskWriteMsMax: 1, diskSlowChance: 0, diskSlowMsMax: 0, diskFailChance: 0,
    clocks: [], partitions: [], clogs: [], crashes: [],
  };
}

function configError(field: string, allowed: string, value: unknown): DistError {
  return new DistError('E_SIM_CONFIG', `fault plan field ${field} must be ${allowed}, got ${JSON.stringify(value)}`, { field });
}

function checkNumber(plan: FaultPlan, field: keyof FaultPlan, min: number, max: number): void {
  const value = plan[field];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw configError(field, `a number in [${min}, ${max}]`, value);
  }
}

const chanceFields = ['latencyTailChance', 'lossChance', 'duplicateChance', 'reorderChance', 'diskSlowChance', 'diskFailChance'] as const;
const msFields = ['latencyMsMin', 'latencyMsMax', 'latencyTailMsMax', 'reorderDelayMsMax', 'diskWriteMsMin', 'diskWriteMsMax', 'diskSlowMsMax'] as const;
/** No single delay in a plan may exceed this; longer ones are typos, and they would stall the heal. */
export const faultMsMax = 600_000;

/** Validates a plan (from a profile, a trace header, or a shrinker) once, up front. Throws E_SIM_CONFIG
 * naming the field and the allowed range. Nodes named in the schedule must be in `nodeIds`. */
export function validatePlan(plan: FaultPlan, nodeIds: readonly NodeId[]): void {
  if (typeof plan !== 'object' || plan === null) throw configError('plan', 'an object', plan);
  for (const field of chanceFields) checkNumber(plan, field, 0, 1);
  for (const field of msFields) checkNumber(plan, field, 0, faultMsMax);
  if (plan.latencyMsMax < plan.latencyMsMin) throw configError('latencyMsMax', '>= latencyMsMin', plan.latencyMsMax);
  if (plan.diskWriteMsMax < plan.diskWriteMsMin) throw configError('diskWriteMsMax', '>= diskWriteMsMin', plan.diskWriteMsMax);
  const known = new Set(nodeIds);
  const checkNode = (field: string, id: unknown): void => {
    if (typeof id !== 'string' || !known.has(id)) throw configError(field, `one of ${nodeIds.join(',')}`, id);
  };
  const checkTimes = (field: string, atMs: unknown, spanMs: unknown): void => {
    if (typeof atMs !== 'number' || !(atMs >= 0 && atMs <= faultMsMax)) throw configError(`${field}.atMs`, `in [0, ${faultMsMax}]`, atMs);
    if (typeof spanMs !== 'number' || !(spanMs >= 0 && spanMs <= faultMsMax)) throw configError(`${field}.durationMs`, `in [0, ${faultMsMax}]`, spanMs);
  };
  if (!Array.isArray(plan.clocks) || !Array.isArray(plan.partitions) || !Array.isArray(plan.clogs) || !Array.isArray(plan.crashes)) {
    throw configError('clocks/partitions/clogs/crashes', 'arrays', null);
  }
  for (const c of plan.clocks) {
    checkNode('clocks.node', c.node);
    if (!(Math.abs(c.offsetMs) <= faultMsMax)) throw configError('clocks.offsetMs', `within ±${faultMsMax}`, c.offsetMs);
    if (!(Math.abs(c.driftPpm) <= 100_000)) throw configError('clocks.driftPpm', 'within ±100000', c.driftPpm);
  }
  for (const p of plan.partitions) {
    checkTimes('partitions', p.atMs, p.durationMs);
    if (p.kind !== 'one-way' && p.kind !== 'two-way') throw configError('partitions.kind', 'one-way or two-way', p.kind);
    if (!Array.isArray(p.side) || p.side.length === 0) throw configError('partitions.side', 'a non-empty list of nodes', p.side);
    for (const id of p.side) checkNode('partitions.side', id);
  }
  for (const c of plan.clogs) {
    checkTimes('clogs', c.atMs, c.durationMs);
    checkNode('clogs.from', c.from);
    checkNode('clogs.to', c.to);
  }
  for (const c of plan.crashes) {
    checkTimes('crashes', c.atMs, c.downMs);
    checkNode('crashes.node', c.node);
  }
  // Optional lists (plans written before they existed have none): an array when present.
  const optionalList = <T>(field: string, list: readonly T[] | undefined): readonly T[] => {
    if (list !== undefined && !Array.isArray(list)) throw configError(field, 'an array', list);
    return list ?? [];
  };
  for (const f of optionalList('slowNodes', plan.slowNodes)) {
    checkTimes('slowNodes', f.atMs, f.durationMs);
    checkNode('slowNodes.node', f.node);
    if (typeof f.lagMs !== 'number' || !(f.lagMs >= 0 && f.lagMs <= faultMsMax)) throw configError('slowNodes.lagMs', `in [0, ${faultMsMax}]`, f.lagMs);
  }
  for (const f of optionalList('pauses', plan.pauses)) {
    checkTimes('pauses', f.atMs, f.durationMs);
    checkNode('pauses.node', f.node);
  }
}

/** Every kind of fault the simulator counts. A run reports how many of each actually fired. */
export const faultKinds = [
  'loss', 'duplicate', 'reorder', 'latencyTail',
  'partitionOneWay', 'partitionTwoWay', 'partitionDrop',
  'clog', 'clogHeld',
  'crash', 'restart', 'unsyncedWriteLost',
  'diskSlow', 'diskFail',
  'clockSkew',
  'webFail',
  'slowInbound',
  'pause', 'pauseDeferred',
] as const;
export type FaultKind = (typeof faultKinds)[number];
export type FaultCounts = Record<FaultKind, number>;

export function zeroFaultCounts(): FaultCounts {
  const counts = {} as FaultCounts;
  for (const kind of faultKinds) counts[kind] = 0;
  return counts;
}

export function totalFaults(counts: FaultCounts): number {
  let total = 0;
  for (const kind of faultKinds) if (kind !== 'restart') total += counts[kind];
  return total;
}
