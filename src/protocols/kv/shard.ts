/**
 * Group storage on one node (Env-bound driver over core.ts): the coordinator side routes a call to the
 * key's owner; the owner side serves keys in its token; settle rounds move records when the view
 * changes; confirms delete the copies that moved. Service `kvshard` (methods `op`, `pull`, `confirm`,
 * `keys`), reached through a `KvTransport` that the node runtime satisfies with its RPC.
 */
import type { Env, NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';
import { DistError, hasCode } from '../../lib/errors.js';
import { getID } from '../node/id.js';
import { defineMethod, type Callback, type Service } from '../node/method.js';
import { compareMeta, handOff, mergeRecords, NodePlacer, sameMembers, Token, unversioned, type KvRecord } from './core.js';
import type { KvEngine, KvOp, Meta } from './engine.js';
import { appended, notFound } from './local.js';
import type { Placement } from './placement.js';

export const kvShardService = 'kvshard';
export type KvOpName = 'put' | 'get' | 'del' | 'append';
const opNames: ReadonlySet<string> = new Set(['put', 'get', 'del', 'append']);

/** One remote call to a peer's `kvshard` service; the node runtime's RPC satisfies it. */
export interface KvTransport {
  call(to: NodeId, method: string, args: readonly unknown[], callback: Callback): void;
}

/** Who places and who may hold data, per gid: members = the live view (self included); holders = every
 * node that may keep records of the gid, down ones included (settling waits for each of them). */
export interface KvViews {
  members(gid: string): readonly NodeId[];
  holders(gid: string): readonly NodeId[];
}

export interface KvShardsOptions {
  readonly placement: Placement;
  /** Coordinator attempts per call while owners answer "not ready" or "not owner". */
  readonly opAttemptsMax?: number;
  readonly opRetryMs?: number;
  /** How often each gid's token is checked against the view (and a failed round retried). */
  readonly settleCheckMs?: number;
}

export const opAttemptsMaxDefault = 10;
export const opRetryMsDefault = 100;
export const settleCheckMsDefault = 250;
/** Codes that say the call was not applied, so the coordinator may try again. */
const retryable: readonly string[] = ['E_KV_NOT_READY', 'E_KV_NOT_OWNER'];

/** What one node serves of a gid, for a cluster-wide listing: the view its token was installed for, how
 * many claims pullers took from that token since (keys on their way to another node), and the keys. */
export interface ServedKeys {
  readonly members: readonly NodeId[];
  readonly claims: number;
  readonly keys: readonly string[];
}

/** Whether a member's answer shows it settled on exactly `members`, with no key on its way elsewhere. */
function settledOn(answer: unknown, members: readonly NodeId[]): answer is ServedKeys {
  const served = answer as ServedKeys | null;
  return typeof served === 'object' && served !== null && Array.isArray(served.keys) && Array.isArray(served.members)
    && served.claims === 0 && sameMembers(served.members, members);
}

interface Round {
  readonly id: string;
  readonly token: Token;
  readonly waiting: Set<NodeId>;
  readonly records: Map<string, KvRecord>;
  /** Which keys each holder sent, to confirm to it. */
  readonly sent: Map<NodeId, string[]>;
}

export class KvShards {
  private readonly tokens = new Map<string, Token>();
  private readonly rounds = new Map<string, Round>();
  private readonly placer: NodePlacer;
  private readonly gids = new Set<string>();
  private clock = 0;
  private roundSeq = 0;
  private readonly nonce: string;
  readonly stats = { roundsStarted: 0, roundsInstalled: 0, roundsFailed: 0, recordsMoved: 0, copiesDeleted: 0, refusals: 0 };

  constructor(
    private readonly env: Env,
    readonly engine: KvEngine,
    private readonly transport: KvTransport,
    private readonly views: KvViews,
    private readonly options: KvShardsOptions,
  ) {
    this.placer = new NodePlacer(options.placement);
    this.nonce = env.random.int(0, 2 ** 31).toString(36);
  }

  /** Starts managing `gid`: settles now and checks the token every settleCheckMs. */
  manage(gid: string): void {
    if (this.gids.has(gid)) return;
    this.gids.add(gid);
    this.startRound(gid);
    this.scheduleCheck(gid);
  }

  /** The view of `gid` changed (membership): settle for the new view at once. */
  viewChanged(gid: string): void {
    if (this.gids.has(gid)) this.startRound(gid);
  }

  /** True when this node serves `key` of `gid` right now (for checkers). */
  serves(gid: string, key: string): boolean {
    return this.tokens.get(gid)?.covers(key, this.placer) ?? false;
  }

  /** This node's view of `gid` for clients that route by themselves (`KvClient`): members and placement. */
  view(gid: string): { members: NodeId[]; placement: Placement } {
    return { members: [...this.views.members(gid)], placement: this.options.placement };
  }

  ownerOf(gid: string, key: string): NodeId {
    return this.placer.forMembers(this.views.members(gid))(key);
  }

  // ---- coordinator ---------------------------------------------------------------------------

  /** Routes one call to the key's owner by this node's view; retries while owners refuse. */
  request(gid: string, op: KvOpName, key: string | null, value: unknown, callback: Callback, attempt = 1): void {
    const k = key ?? getID(value);
    const owner = this.ownerOf(gid, k);
    this.transport.call(owner, 'op', [gid, op, k, value], (err, result) => {
      const attemptsMax = this.options.opAttemptsMax ?? opAttemptsMaxDefault;
      if (err !== null && retryable.some((code) => hasCode(err, code)) && attempt < attemptsMax) {
        const delayMs = (this.options.opRetryMs ?? opRetryMsDefault) * attempt;
        this.env.timers.set(delayMs, () => this.request(gid, op, k, value, callback, attempt + 1));
        return;
      }
      callback(err, result);
    });
  }

  /**
   * Every key of `gid`, sorted: the union of what each member of this node's view serves. Only complete or
   * not at all, so it fails with E_KV_NOT_READY while a holder is outside the view (its keys are served by
   * no one), a member is unsettled or settled on another view, or a puller has claimed keys that it has
   * not installed yet (they are served by no one for that moment). With every member settled on the same
   * view and no claims, each key is served by its owner under that view, which lists it.
   */
  listKeys(gid: string, reply: Callback): void {
    const members = this.views.members(gid);
    const missing = this.views.holders(gid).filter((id) => !members.includes(id));
    if (missing.length > 0) return reply(new DistError('E_KV_NOT_READY', `keys on ${missing.join(', ')} are served by no one now`, { gid, missing }));
    const keys = new Set<string>();
    let waiting = members.length;
    let failure: Error | undefined;
    for (const member of members) {
      this.transport.call(member, 'keys', [gid], (err, answer) => {
        if (err !== null) failure ??= err;
        else if (!settledOn(answer, members)) failure ??= new DistError('E_KV_NOT_READY', 'ownership is moving', { gid, node: member });
        else for (const key of answer.keys) keys.add(key);
        if (--waiting > 0) return;
        if (failure !== undefined) reply(failure);
        else reply(null, [...keys].sort());
      });
    }
  }

  private servedKeys(gid: string): ServedKeys | DistError {
    const token = this.tokens.get(gid);
    if (token === undefined) return new DistError('E_KV_NOT_READY', 'not settled yet', { gid });
    return { members: [...token.members], claims: token.claimCount, keys: this.engine.keys(gid).filter((key) => this.serves(gid, key)) };
  }

  // ---- owner ---------------------------------------------------------------------------------

  private handleOp(gid: string, op: string, key: string, value: unknown, reply: Callback): void {
    if (typeof gid !== 'string' || typeof key !== 'string' || !opNames.has(op)) return reply(new DistError('E_KV_BAD_CONFIG', 'op(gid, op, key, value)'));
    if (!this.serves(gid, key)) return this.refuse(gid, key, reply);
    const found = this.engine.get(gid, key);
    if (op === 'get') return found === undefined ? reply(notFound(gid, key)) : reply(null, found.value);
    if (op === 'del' && found === undefined) return reply(notFound(gid, key));
    const meta = this.nextVersion(gid, key, op === 'del');
    const write: KvOp = op === 'del' ? { gid, key, put: false, meta } : { gid, key, put: true, value: op === 'append' ? appended(found, value) : value, meta };
    const answer = op === 'del' ? found?.value : write.put ? write.value : undefined;
    this.engine.write([write], (err) => (err === null ? reply(null, answer) : reply(err)));
  }

  private refuse(gid: string, key: string, reply: Callback): void {
    this.stats.refusals++;
    if (this.gids.has(gid) && this.ownerOf(gid, key) === this.env.nodeId) {
      if (!this.rounds.has(gid)) this.startRound(gid);
      return reply(new DistError('E_KV_NOT_READY', 'this node owns the key but is still collecting it', { gid }));
    }
    reply(new DistError('E_KV_NOT_OWNER', 'this node does not serve the key', { gid }));
  }

  private nextVersion(gid: string, key: string, deleted: boolean): Meta {
    const stored = this.engine.meta(gid, key) ?? unversioned;
    this.clock = Math.max(this.clock, stored.counter) + 1;
    return { counter: this.clock, node: this.env.nodeId, deleted };
  }

  // ---- settle rounds (puller) -----------------------------------------------------------------

  private startRound(gid: string): void {
    const members = this.views.members(gid);
    assert(members.includes(this.env.nodeId), 'a view includes its own node');
    const holders = this.views.holders(gid).filter((id) => id !== this.env.nodeId);
    const round: Round = { id: `${this.env.nodeId}/${this.nonce}/${++this.roundSeq}`, token: new Token(this.env.nodeId, members), waiting: new Set(holders), records: new Map(), sent: new Map() };
    this.rounds.set(gid, round);
    this.stats.roundsStarted++;
    this.env.trace.event('kv.round-start', { gid, round: round.id, members: [...members] });
    if (round.waiting.size === 0) return this.finishRound(gid, round);
    for (const holder of holders) {
      this.transport.call(holder, 'pull', [gid, round.id, this.env.nodeId, [...members]], (err, records) => this.onPullReply(gid, round, holder, err, records));
    }
  }

  private onPullReply(gid: string, round: Round, holder: NodeId, err: Error | null, records: unknown): void {
    if (this.rounds.get(gid) !== round || !round.waiting.has(holder)) return; // superseded or duplicate
    if (err !== null || !Array.isArray(records)) return this.failRound(gid, round);
    mergeRecords(round.records, records as KvRecord[]);
    round.sent.set(holder, (records as KvRecord[]).map((r) => r.key));
    round.waiting.delete(holder);
    if (round.waiting.size === 0) this.finishRound(gid, round);
  }

  private failRound(gid: string, round: Round): void {
    this.rounds.delete(gid);
    this.stats.roundsFailed++;
    this.env.trace.event('kv.round-failed', { gid, round: round.id });
  }

  /** Makes the newer records durable here, then installs the token and tells holders to drop their copies. */
  private finishRound(gid: string, round: Round): void {
    const ops: KvOp[] = [];
    for (const record of round.records.values()) {
      this.clock = Math.max(this.clock, record.meta.counter);
      if (!this.isNewer(gid, record)) continue;
      ops.push(record.meta.deleted || !('value' in record) ? { gid, key: record.key, put: false, meta: record.meta } : { gid, key: record.key, put: true, value: record.value, meta: record.meta });
    }
    const install = (): void => {
      if (this.rounds.get(gid) !== round) return;
      this.rounds.delete(gid);
      this.tokens.set(gid, round.token);
      this.stats.roundsInstalled++;
      this.stats.recordsMoved += ops.length;
      this.env.trace.event('kv.round-installed', { gid, round: round.id, moved: ops.length });
      this.sendConfirms(gid, round, new Set(ops.map((op) => op.key)));
    };
    if (ops.length === 0) return install();
    this.engine.write(ops, (err) => (err === null ? install() : this.failRound(gid, round)));
  }

  private isNewer(gid: string, record: KvRecord): boolean {
    const local = this.engine.meta(gid, record.key) ?? (this.engine.get(gid, record.key) === undefined ? undefined : unversioned);
    return local === undefined || compareMeta(local, record.meta) < 0; // tombstones too: they stop resurrection
  }

  /**
   * Only keys this round newly wrote are confirmed: two nodes that both already held a key must not
   * confirm it to each other, or each would drop its copy trusting the other's (found by the checker).
   */
  private sendConfirms(gid: string, round: Round, written: ReadonlySet<string>): void {
    for (const [holder, sentKeys] of round.sent) {
      const keys = sentKeys.filter((key) => written.has(key));
      if (keys.length === 0) continue;
      const confirmed = keys.map((key) => ({ key, meta: (round.records.get(key) as KvRecord).meta }));
      this.transport.call(holder, 'confirm', [gid, confirmed], () => undefined); // a lost confirm leaves a harmless older copy
    }
  }

  private scheduleCheck(gid: string): void {
    const periodMs = this.options.settleCheckMs ?? settleCheckMsDefault;
    const jitterMs = this.env.random.int(0, Math.max(1, Math.floor(periodMs / 2)));
    this.env.timers.set(periodMs + jitterMs, () => {
      const token = this.tokens.get(gid);
      const stale = token === undefined || !sameMembers(token.members, this.views.members(gid)) || token.claimCount > 0;
      if (stale && !this.rounds.has(gid)) this.startRound(gid);
      this.scheduleCheck(gid);
    });
  }

  // ---- holder ----------------------------------------------------------------------------------

  /** A puller claims its keys: stop serving them (token and round in progress), answer our records. */
  private handlePull(gid: string, puller: NodeId, members: NodeId[], reply: Callback): void {
    const claim = { puller, members };
    this.tokens.get(gid)?.subtract(claim);
    this.rounds.get(gid)?.token.subtract(claim);
    const keys = [...new Set([...this.engine.metaKeys(gid), ...this.engine.keys(gid)])].sort();
    const records = handOff(keys, claim, this.placer).map((key): KvRecord => {
      const found = this.engine.get(gid, key);
      const meta = this.engine.meta(gid, key) ?? unversioned;
      return found === undefined ? { key, meta } : { key, meta, value: found.value };
    });
    reply(null, records);
  }

  /** The puller holds these versions durably: drop our copies that are not newer and that we do not serve. */
  private handleConfirm(gid: string, confirmed: { key: string; meta: Meta }[], reply: Callback): void {
    const ops: KvOp[] = [];
    for (const { key, meta } of confirmed) {
      if (this.serves(gid, key) || (this.rounds.get(gid)?.token.covers(key, this.placer) ?? false)) continue;
      const local = this.engine.meta(gid, key) ?? (this.engine.get(gid, key) === undefined ? undefined : unversioned);
      if (local !== undefined && compareMeta(local, meta) <= 0) ops.push({ gid, key, put: false, meta: null });
    }
    if (ops.length === 0) return reply(null, 0);
    this.engine.write(ops, (err) => {
      if (err === null) this.stats.copiesDeleted += ops.length;
      reply(err, ops.length);
    });
  }

  /** The `kvshard` service the transport reaches. */
  service(): Service {
    return {
      op: defineMethod(4, ([gid, op, key, value], reply) => this.handleOp(gid as string, op as string, key as string, value, reply)),
      pull: defineMethod(4, ([gid, _round, puller, members], reply) => {
        if (typeof gid !== 'string' || typeof puller !== 'string' || !Array.isArray(members) || !members.includes(puller)) {
          return reply(new DistError('E_KV_BAD_CONFIG', 'pull(gid, round, puller, members)'));
        }
        this.handlePull(gid, puller, members as NodeId[], reply);
      }, { idempotent: true }),
      confirm: defineMethod(2, ([gid, confirmed], reply) => {
        if (typeof gid !== 'string' || !Array.isArray(confirmed)) return reply(new DistError('E_KV_BAD_CONFIG', 'confirm(gid, records)'));
        this.handleConfirm(gid, confirmed as { key: string; meta: Meta }[], reply);
      }, { idempotent: true }),
      keys: defineMethod(1, ([gid], reply) => {
        if (typeof gid !== 'string') return reply(new DistError('E_KV_BAD_GID', 'keys(gid)'));
        const served = this.servedKeys(gid);
        return served instanceof DistError ? reply(served) : reply(null, served);
      }, { idempotent: true }),
    };
  }
}
