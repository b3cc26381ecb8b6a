/**
 * Drives the course's reference implementation (@brown-ds/distribution) for bench/mr-m5.bench.ts, in a
 * process of its own (see bench/reference-driver.cjs for why). Boots one reference node, spawns
 * `workers` reference nodes with its own status.spawn, puts them in group `m5` on every node, then
 * answers the parent over IPC:
 *   {type: 'run', name, data: [[key, value]...], map, reduce}   (functions as source text)
 *     -> {type: 'run', loadMs, execMs, results} | {type: 'error', message}
 * Data goes in with distribution.m5.store.put (timed apart); the job with distribution.m5.mr.exec.
 */
'use strict';
const { performance } = require('node:perf_hooks');

const { config, workers } = JSON.parse(process.argv[2]);
const distribution = require('@brown-ds/distribution')(config);
globalThis.distribution = distribution;
const id = distribution.util.id;

const loadWindow = 8;
const once = (start) => new Promise((resolve) => start((err, value) => resolve([err, value])));
const failed = (err) => err && (err instanceof Error || Object.keys(err).length > 0);

const spawned = [];

async function setUp() {
  const group = {};
  for (let i = 1; i <= workers; i++) {
    const node = { ip: config.ip, port: config.port + i };
    const [err] = await once((cb) => distribution.local.status.spawn(node, cb));
    if (err) throw err;
    spawned.push(node);
    group[id.getSID(node)] = node;
  }
  const [e1] = await once((cb) => distribution.local.groups.put({ gid: 'm5' }, group, cb));
  if (failed(e1)) throw e1;
  const [e2] = await once((cb) => distribution.m5.groups.put({ gid: 'm5' }, group, cb));
  if (failed(e2)) throw new Error(JSON.stringify(e2));
}

async function run({ data, map, reduce }) {
  const loadStart = performance.now();
  // A few puts at a time: the reference loses callbacks when many requests overlap.
  for (let i = 0; i < data.length; i += loadWindow) {
    await Promise.all(data.slice(i, i + loadWindow).map(([key, value]) => once((cb) => distribution.m5.store.put(value, key, cb))));
  }
  const loadMs = performance.now() - loadStart;
  const spec = { keys: data.map(([key]) => key), map: eval(`(${map})`), reduce: eval(`(${reduce})`) };
  const start = performance.now();
  const [err, results] = await once((cb) => distribution.m5.mr.exec(spec, cb));
  if (failed(err)) return { type: 'error', message: String(err.message || JSON.stringify(err)) };
  return { type: 'run', loadMs, execMs: performance.now() - start, results };
}

distribution.node.start(async () => {
  try {
    await setUp();
  } catch (err) {
    process.send({ type: 'error', message: String(err && err.message) });
    return;
  }
  process.on('message', async (request) => process.send(await run(request).catch((err) => ({ type: 'error', message: String(err && err.message) }))));
  process.send({ type: 'up' });
});
/** The reference's spawned nodes outlive their parent: stop them before leaving. */
function shutdown() {
  let left = spawned.length;
  if (left === 0) process.exit(0);
  for (const node of spawned) distribution.local.comm.send([], { node, service: 'status', method: 'stop' }, () => --left === 0 && process.exit(0));
  setTimeout(() => process.exit(0), 2_000);
}
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
