/**
 * Membership configuration: every timing constant named with its unit last, validated once, up front,
 * with an error that names the field and its allowed range (E_MEMBERSHIP_CONFIG, `details.field`).
 */
import type { NodeId } from '../../env/index.js';
import { DistError } from '../../lib/errors.js';
import { membersMax } from './core.js';

export interface MembershipConfig {
  /** Nodes to sync with on join and whenever the table knows no one else. May include self. */
  readonly seeds: readonly NodeId[];
  /** SWIM's protocol period T': one member is probed per period. */
  readonly probeIntervalMs: number;
  /** How long to wait for a direct ack before asking `indirectProbes` members to probe (SWIM §3.1). */
  readonly ackTimeoutMs: number;
  /** How long a member stays suspect before it is declared dead, unless it refutes (SWIM §4.2), once
   * `suspicionConfirmations` other members confirmed the suspicion: the minimum (Lifeguard). */
  readonly suspicionTimeoutMs: number;
  /** An unconfirmed suspicion lasts this many times `suspicionTimeoutMs`; each independent confirmation
   * shrinks it logarithmically towards the minimum (Lifeguard §IV-B; memberlist uses 6). 1 turns it off. */
  readonly suspicionTimeoutMaxMult: number;
  /** Independent confirmations that bring a suspicion to the minimum (memberlist: SuspicionMult - 2 = 2). */
  readonly suspicionConfirmations: number;
  /** k of SWIM §3.1: members asked to probe the target when the direct ack is late. 0 disables. */
  readonly indirectProbes: number;
  /** How often pending updates are pushed to `gossipFanout` random members (infection-style). */
  readonly gossipIntervalMs: number;
  /** Members gossiped to per gossip round. 0 leaves dissemination to piggybacking on probes alone. */
  readonly gossipFanout: number;
  /** lambda of SWIM §4.1: each update is sent lambda * ceil(log10(n + 1)) times. */
  readonly retransmitMult: number;
  /** Full-state sync with one random known member (dead ones included, so partitions heal) per
   * interval. 0 disables it (then views split by a long partition may never merge). */
  readonly syncIntervalMs: number;
  /** Most records piggybacked on one probe or gossip message. */
  readonly piggybackUpdatesMax: number;
  /** Lifeguard's local health multiplier: probe periods and ack timeouts stretch up to (this + 1)
   * times while this node finds itself slow (core.ts `LocalHealth`; memberlist uses 8). 0 turns it off. */
  readonly localHealthMax: number;
}

export const membershipDefaults: Omit<MembershipConfig, 'seeds'> = {
  probeIntervalMs: 1000,
  ackTimeoutMs: 500,
  suspicionTimeoutMs: 5000,
  suspicionTimeoutMaxMult: 6,
  suspicionConfirmations: 2,
  indirectProbes: 3,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  retransmitMult: 4,
  syncIntervalMs: 5000,
  piggybackUpdatesMax: 16,
  localHealthMax: 8,
};

const timeMsMax = 3_600_000;

function configError(field: string, range: string, value: unknown): DistError {
  return new DistError('E_MEMBERSHIP_CONFIG', `membership ${field} must be ${range}, got ${JSON.stringify(value)}`, { field });
}

function intIn(a: Record<string, unknown>, field: keyof typeof membershipDefaults, min: number, max: number): number {
  const value = a[field] ?? membershipDefaults[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw configError(field, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** Validates program args (or a config object) once, naming the field and its allowed range. */
export function parseMembershipArgs(args: unknown): MembershipConfig {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const seeds = a.seeds ?? [];
  if (!Array.isArray(seeds) || seeds.length > membersMax || !seeds.every((s) => typeof s === 'string' && s.length > 0)) {
    throw configError('seeds', `a list of at most ${membersMax} node ids`, seeds);
  }
  const probeIntervalMs = intIn(a, 'probeIntervalMs', 10, timeMsMax);
  const syncIntervalMs = a.syncIntervalMs ?? membershipDefaults.syncIntervalMs;
  if (syncIntervalMs !== 0 && (typeof syncIntervalMs !== 'number' || !Number.isInteger(syncIntervalMs) || syncIntervalMs < probeIntervalMs || syncIntervalMs > timeMsMax)) {
    throw configError('syncIntervalMs', `0 (off) or an integer in [probeIntervalMs = ${probeIntervalMs}, ${timeMsMax}]`, syncIntervalMs);
  }
  return {
    seeds: [...new Set(seeds as NodeId[])],
    probeIntervalMs,
    // The indirect round needs the rest of the period (SWIM §3.1: T' covers a direct and an indirect round).
    ackTimeoutMs: intIn(a, 'ackTimeoutMs', 1, probeIntervalMs - 1),
    suspicionTimeoutMs: intIn(a, 'suspicionTimeoutMs', probeIntervalMs, timeMsMax),
    suspicionTimeoutMaxMult: intIn(a, 'suspicionTimeoutMaxMult', 1, 100),
    suspicionConfirmations: intIn(a, 'suspicionConfirmations', 0, 16),
    indirectProbes: intIn(a, 'indirectProbes', 0, 16),
    gossipIntervalMs: intIn(a, 'gossipIntervalMs', 1, timeMsMax),
    gossipFanout: intIn(a, 'gossipFanout', 0, 16),
    retransmitMult: intIn(a, 'retransmitMult', 1, 16),
    syncIntervalMs: syncIntervalMs as number,
    piggybackUpdatesMax: intIn(a, 'piggybackUpdatesMax', 1, 1024),
    localHealthMax: intIn(a, 'localHealthMax', 0, 16),
  };
}
