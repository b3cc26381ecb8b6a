/**
 * The course's M4 workload in a process of its own, for bench/m4.bench.ts, on either implementation:
 *   node bench/m4-driver.cjs ours|reference BASE_PORT
 * Boots a node on BASE_PORT, spawns two more with the library's own `status.spawn`, puts group `m4` of the
 * three on every member, then for mem and for store: puts 1,000 five-property objects through
 * `distribution.m4.<service>.put`, one after another, then gets them all back, checking each value.
 * Prints one JSON line {service: {putMs, getMs}} and stops the nodes. Run it in an empty working
 * directory: both implementations keep store data under ./store.
 */
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const [which, basePortText] = process.argv.slice(2);
const basePort = Number(basePortText);
const objectsCount = 1000;
const library = which === 'ours' ? path.join(__dirname, '..', 'distribution', 'index.js') : '@brown-ds/distribution';
const bootstrap = require(library);
const self = { ip: '127.0.0.1', port: basePort };
const distribution = bootstrap(self);
globalThis.distribution = distribution;

const call = (fn) => new Promise((resolve, reject) => fn((err, value) => (err && !(typeof err === 'object' && Object.keys(err).length === 0 && !(err instanceof Error)) ? reject(err) : resolve(value))));
const object = (i) => ({ first: `first-${i}`, last: `last-${i}`, age: 20 + (i % 50), city: `city-${i % 97}`, active: i % 2 === 0 });

async function main() {
  await new Promise((resolve) => distribution.node.start(resolve));
  const peers = [{ ip: '127.0.0.1', port: basePort + 1 }, { ip: '127.0.0.1', port: basePort + 2 }];
  for (const peer of peers) await call((cb) => distribution.local.status.spawn(peer, cb));
  const group = {};
  for (const node of [self, ...peers]) group[distribution.util.id.getSID(node)] = node;
  await call((cb) => distribution.local.groups.put({ gid: 'm4' }, group, cb));
  await call((cb) => distribution.m4.groups.put({ gid: 'm4' }, group, cb));
  const result = {};
  for (const service of ['mem', 'store']) {
    const s = distribution.m4[service];
    let startMs = performance.now();
    for (let i = 0; i < objectsCount; i++) await call((cb) => s.put(object(i), `key-${i}`, cb));
    const putMs = performance.now() - startMs;
    startMs = performance.now();
    for (let i = 0; i < objectsCount; i++) {
      const value = await call((cb) => s.get(`key-${i}`, cb));
      if (value.first !== `first-${i}`) throw new Error(`wrong value for key-${i}`);
    }
    result[service] = { putMs, getMs: performance.now() - startMs };
  }
  console.log(JSON.stringify(result));
  for (const peer of peers) await new Promise((resolve) => distribution.local.comm.send([], { node: peer, service: 'status', method: 'stop' }, resolve));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
