/**
 * `globalThis.distribution`, bound per node.
 *
 * Course code reaches its node through the global (`global.distribution.local.comm.send(...)` inside a
 * service, a map function, a gossiped call). In a process with one node that is one object; in the
 * simulator, and in a test process with several facade nodes, many nodes share one global. So the global
 * is an accessor: while a node runs an event (a delivered call, a timer, a reply: the node runtime marks
 * it current, protocols/node/rpc.ts) it is that node's object; outside any event it is the one last
 * assigned (`bootstrap` assigns its node's, as the course's does; so does course code that assigns it).
 */
import { currentNode } from '../protocols/node/index.js';

const byNode = new WeakMap<object, unknown>();
let processValue: unknown;

function read(): unknown {
  const node = currentNode();
  const bound = node === undefined ? undefined : byNode.get(node);
  return bound ?? processValue;
}

function write(value: unknown): void {
  processValue = value;
}

/** (Re)installs the accessor; a test that deleted or replaced the property gets it back, value kept. */
function installAccessor(): void {
  const existing = Object.getOwnPropertyDescriptor(globalThis, 'distribution');
  if (existing?.get === read) return;
  if (existing !== undefined && 'value' in existing) processValue = existing.value;
  Object.defineProperty(globalThis, 'distribution', { configurable: true, enumerable: false, get: read, set: write });
}

/** From now on, `globalThis.distribution` inside `node`'s events is `distribution`. */
export function bindGlobal(node: object, distribution: unknown): void {
  byNode.set(node, distribution);
  installAccessor();
}
