/**
 * Drives a course-API library for bench/node.bench.ts, in a process of its own:
 *   node bench/course-driver.cjs CONFIG_JSON reference|ours
 * `reference` is the course's implementation (@brown-ds/distribution; its serializer indexes every global
 * at load, which breaks in a process that also loaded our runtime), `ours` this project's facade bundle
 * (distribution/index.js): the same driver code, only the library differs. Boots one node, then answers
 * the parent over IPC:
 *   {type: 'comm', peer, count, window}   -> {type: 'comm', latenciesMs, elapsedMs} | {type: 'error'}
 *   {type: 'spawn', configs}              -> {type: 'spawn', elapsedMs}  (one after another, each listening)
 *   {type: 'stop', configs}               -> {type: 'stop'}
 * using only the library's own distribution.local.comm.send and status.spawn.
 */
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const config = JSON.parse(process.argv[2]);
const library = process.argv[3] === 'ours' ? path.join(__dirname, '..', 'distribution', 'index.js') : '@brown-ds/distribution';
const distribution = require(library)(config);
globalThis.distribution = distribution;

function send(to, message, service, method) {
  return new Promise((resolve) => distribution.local.comm.send(message, { node: to, service, method }, (err, value) => resolve([err, value])));
}

function comm({ peer, count, window }) {
  return new Promise((resolve) => {
    const latenciesMs = [];
    let started = 0;
    const startMs = performance.now();
    const launch = () => {
      const sentMs = performance.now();
      started++;
      distribution.local.comm.send(['nid'], { node: peer, service: 'status', method: 'get' }, (err) => {
        if (err) return resolve({ type: 'error', message: String(err && err.message) });
        latenciesMs.push(performance.now() - sentMs);
        if (latenciesMs.length === count) return resolve({ type: 'comm', latenciesMs, elapsedMs: performance.now() - startMs });
        if (started < count) launch();
      });
    };
    for (let i = 0; i < Math.min(window, count); i++) launch();
  });
}

/** One spawn at a time: the reference loses callbacks when several spawns overlap. */
async function spawn({ configs }) {
  const startMs = performance.now();
  for (const c of configs) {
    const err = await new Promise((resolve) => distribution.local.status.spawn(c, (e) => resolve(e)));
    if (err) return { type: 'error', message: String(err.message) };
  }
  return { type: 'spawn', elapsedMs: performance.now() - startMs };
}

async function stop({ configs }) {
  await Promise.all(configs.map((c) => send(c, [], 'status', 'stop')));
  return { type: 'stop' };
}

const handlers = { comm, spawn, stop };
distribution.node.start(() => {
  process.on('message', async (request) => process.send(await handlers[request.type](request)));
  process.send({ type: 'up' });
});
process.on('disconnect', () => process.exit(0));
