/**
 * A Promise-based client of a `kv` cluster for TypeScript programs, over a node of their own (DistNode).
 * It fetches a view (`kv.view`: the members and the placement) from the first seed that answers and sends
 * each call straight to the key's owner in that view, whose `kv` service then serves it without a hop. A
 * node that does not answer, or answers that it does not own the key, makes the client fetch the view
 * again and retry, at most `attemptsMax` times; a coded error from the cluster is the promise's rejection.
 * Promises make it a client for programs on the real runtime, like `DistNode.call`: the simulator runs
 * each event to completion without draining promise continuations (docs/simulator.md), so code that
 * must run there uses the callback layer (`callRemote` to the `kv` service).
 *
 *   const kv = new KvClient(node, ['n1', 'n2', 'n3']);
 *   await kv.put('user-1', { name: 'ada' });
 *   const user = await kv.get('user-1');
 *   const everyKey = await kv.keys();
 */
import type { NodeId } from '../../env/index.js';
import { DistError, hasCode } from '../../lib/errors.js';
import type { DistNode } from '../node/node.js';
import { NodePlacer } from './core.js';
import { parsePlacement } from './placement.js';
import { kvClientService } from './program.js';

/** What `kv.view` answers. */
export interface KvView {
  readonly members: readonly NodeId[];
  readonly placement: unknown;
}

export interface KvClientOptions {
  /** Calls per operation, view refreshes included. */
  readonly attemptsMax?: number;
  /** Per call, ms. */
  readonly timeoutMs?: number;
}

export const kvClientAttemptsMaxDefault = 4;
/** Errors after which the view is fetched again and the call retried: the node was not the owner or
 * did not answer. Anything else is the answer. */
const staleViewCodes: readonly string[] = ['E_KV_NOT_OWNER', 'E_KV_NOT_READY', 'E_NODE_TIMEOUT', 'E_NODE_PEER_DOWN'];

export class KvClient {
  private view: { members: readonly NodeId[]; placer: NodePlacer } | undefined;
  private readonly attemptsMax: number;

  constructor(private readonly node: DistNode, private readonly seeds: readonly NodeId[], private readonly options: KvClientOptions = {}) {
    if (seeds.length === 0) throw new DistError('E_KV_CONFIG', 'a kv client needs at least one seed node', { field: 'seeds' });
    this.attemptsMax = options.attemptsMax ?? kvClientAttemptsMaxDefault;
  }

  put(key: string, value: unknown): Promise<unknown> {
    return this.routed(key, 'put', [value, key]);
  }

  get(key: string): Promise<unknown> {
    return this.routed(key, 'get', [key]);
  }

  del(key: string): Promise<unknown> {
    return this.routed(key, 'del', [key]);
  }

  append(key: string, value: unknown): Promise<unknown[]> {
    return this.routed(key, 'append', [value, key]) as Promise<unknown[]>;
  }

  /** Every key (the cluster refuses a listing it cannot make complete), asking another member each attempt. */
  async keys(): Promise<string[]> {
    let attempt = 0;
    return (await this.withRetries(async () => {
      const { members } = await this.currentView();
      return this.call(members[attempt++ % members.length]!, 'get', [null]);
    })) as string[];
  }

  /** The owner of `key` in the client's view (fetched if it has none). */
  async ownerOf(key: string): Promise<NodeId> {
    const view = await this.currentView();
    return view.placer.forMembers(view.members)(key);
  }

  private routed(key: string, method: string, args: unknown[]): Promise<unknown> {
    return this.withRetries(async () => this.call(await this.ownerOf(key), method, args));
  }

  private async withRetries(attempt: () => Promise<unknown>): Promise<unknown> {
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt();
      } catch (err) {
        if (attempts >= this.attemptsMax || !staleViewCodes.some((code) => hasCode(err, code))) throw err;
        this.view = undefined; // fetched again by the next attempt
      }
    }
  }

  private async currentView(): Promise<{ members: readonly NodeId[]; placer: NodePlacer }> {
    if (this.view !== undefined) return this.view;
    let lastError: unknown;
    for (const seed of this.seeds) {
      try {
        const answer = (await this.call(seed, 'view', [])) as KvView;
        const placement = parsePlacement(answer?.placement);
        if (placement instanceof DistError || !Array.isArray(answer.members) || answer.members.length === 0) {
          throw new DistError('E_KV_BAD_VIEW', `node ${seed} answered a malformed view`, { node: seed });
        }
        this.view = { members: [...answer.members], placer: new NodePlacer(placement) };
        return this.view;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private call(to: NodeId, method: string, args: unknown[]): Promise<unknown> {
    return this.node.call(to, kvClientService, method, args, this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs });
  }
}
