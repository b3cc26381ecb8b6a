/**
 * Deliberately broken membership variants, to prove the membership checker can fail. Like the
 * broadcast mutants, each differs from the real protocol in exactly one way.
 *
 * - membership-no-refute: the disk confirms the boot write and never another, so a suspected node can
 *   never announce its refutation (it only sends a new incarnation once durable) -> a live node is
 *   declared dead on lossy links (membership.accuracy).
 * - membership-no-sync: full-state sync off (syncIntervalMs 0) -> a (re)started node whose join syncs
 *   are lost never learns the group, and members held dead on both sides of a long partition are never
 *   probed again, so views do not converge after healing (liveness; e.g. seeds 2, 7, 11 under heavy).
 */
import type { Env, NodeFactory } from '../../env/index.js';
import { createMembershipNode } from '../../protocols/membership/index.js';
import { registerWorkload } from '../workload.js';
import { membershipWorkload } from './membership.js';

/** A factory whose disk reports only the first write of each boot durable; later ones land silently. */
function firstWriteOnly(factory: NodeFactory): NodeFactory {
  return (env, args) => {
    let writes = 0;
    const disk: Env['disk'] = {
      get: env.disk.get.bind(env.disk),
      scan: env.disk.scan.bind(env.disk),
      write: (batch, onDurable) => env.disk.write(batch, writes++ === 0 ? onDurable : () => {}),
    };
    return factory({ ...env, disk }, args);
  };
}

export const membershipNoRefute = membershipWorkload({
  name: 'membership-no-refute',
  description: 'MUTANT: a suspected node cannot refute (must fail membership.accuracy on lossy links)',
  program: firstWriteOnly(createMembershipNode),
  mutant: true,
});

export const membershipNoSync = membershipWorkload({
  name: 'membership-no-sync',
  description: 'MUTANT: no full-state sync (must fail liveness: lost joins, long partitions)',
  args: { syncIntervalMs: 0 },
  mutant: true,
});

registerWorkload(membershipNoRefute);
registerWorkload(membershipNoSync);
