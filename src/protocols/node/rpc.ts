/**
 * createRPC stubs and the "current node" they call through.
 *
 * A stub must survive serialization: on arrival it is recompiled from its source with no closure, so
 * everything it needs is in that source (the creator's node id and the rpc id, as literals) or reachable
 * from the global scope. What it reaches globally is the node running the current event: every entry
 * into a node (a delivered message, a timer, a call on its public API) sets it for the duration of that
 * synchronous step, so in the simulator, where many nodes share one process, a stub called inside node
 * n2's handler calls out through n2. Outside any event, the process node (one node per process in the
 * real runtime, registered with `setProcessNode`) is used.
 */
import type { NodeId } from '../../env/index.js';
import { assert } from '../../lib/assert.js';

/** What a stub needs from a node. */
export interface RpcCaller {
  callRpc(creator: NodeId, rpcId: string, args: unknown[], callback: (err: Error | null, value?: unknown) => void): void;
}

const currentKey = 'distribution.node.current';
const processKey = 'distribution.node.process';
const slots = globalThis as unknown as Record<symbol, RpcCaller | undefined>;
const currentSymbol = Symbol.for(currentKey);
const processSymbol = Symbol.for(processKey);

/** Runs `fn` with `node` as the current node (nests; restores the previous one after). */
export function withCurrentNode<T>(node: RpcCaller, fn: () => T): T {
  const previous = slots[currentSymbol];
  slots[currentSymbol] = node;
  try {
    return fn();
  } finally {
    slots[currentSymbol] = previous;
  }
}

/** `withCurrentNode` without a closure, for hot paths: `const previous = enterNode(node)`, then
 * `leaveNode(previous)` in a `finally`. */
export function enterNode(node: RpcCaller): RpcCaller | undefined {
  const previous = slots[currentSymbol];
  slots[currentSymbol] = node;
  return previous;
}

export function leaveNode(previous: RpcCaller | undefined): void {
  slots[currentSymbol] = previous;
}

export function currentNode(): RpcCaller | undefined {
  return slots[currentSymbol] ?? slots[processSymbol];
}

/** The node stubs use outside any event; for processes that run exactly one node. */
export function setProcessNode(node: RpcCaller | undefined): void {
  slots[processSymbol] = node;
}

const rpcIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isRpcId(id: unknown): id is string {
  return typeof id === 'string' && id.startsWith('rpc-') && rpcIdPattern.test(id);
}

/** Builds a stub `(...args, cb)` that calls rpc `rpcId` on node `creator`. It is compiled from its own
 * source (not a closure), so the function here and the one a receiver recompiles behave the same. */
export function rpcStub(creator: NodeId, rpcId: string): (...args: unknown[]) => void {
  assert(typeof creator === 'string' && creator.length > 0, 'rpcStub needs a creator id');
  assert(isRpcId(rpcId), () => `bad rpc id: ${rpcId}`);
  const source = `function rpcStub(...args) {
  const callback = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
  const node = globalThis[Symbol.for(${JSON.stringify(currentKey)})] ?? globalThis[Symbol.for(${JSON.stringify(processKey)})];
  if (node === undefined) {
    const error = new Error('createRPC stub called outside any node');
    error.code = 'E_RPC_NO_NODE';
    callback(error);
    return;
  }
  node.callRpc(${JSON.stringify(creator)}, ${JSON.stringify(rpcId)}, args, callback);
}`;
  // Compiled rather than written as a closure: the serializer ships Function.prototype.toString, which
  // must be exactly this self-contained source.
  return new Function(`return (${source});`)() as (...args: unknown[]) => void;
}
