/** The Env conformance suite against the real runtime: real Envs in this process on loopback ports (hosts
 * spawn real child processes), and a real HTTP server on loopback for `web`. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { diskKeyBytesMax } from '../../src/runtime/index.js';
import { LocalCluster, sleep, until } from '../runtime/helpers.js';
import { describeEnvConformance, type EnvHarness } from './conformance.js';

const programsModule = fileURLToPath(new URL('./programs.js', import.meta.url));

let webServer: http.Server | undefined;
let webBase = '';

before(async () => {
  webServer = http.createServer((req, res) => {
    if (req.url === '/page') res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from loopback');
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => webServer!.listen(0, '127.0.0.1', resolve));
  webBase = `http://127.0.0.1:${(webServer.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => webServer?.close(resolve));
});

const realHarness: EnvHarness = {
  name: 'real runtime (ws, lmdb, child processes, http)',
  async start(ids) {
    const cluster = await LocalCluster.start(ids, { programModules: [programsModule] });
    return {
      env: (id) => cluster.get(id).env,
      until: (predicate, what) => until(predicate, 10_000, what),
      advance: (ms) => sleep(ms),
      close: () => cluster.close(),
    };
  },
  // The real disk cannot be told to fail; a key over LMDB's limit is refused the same way (nothing applied).
  failingBatch: () => [{ key: 'fine', value: new Uint8Array([1]) }, { key: 'k'.repeat(diskKeyBytesMax), value: new Uint8Array([2]) }],
  webUrls: () => ({ ok: `${webBase}/page`, missing: `${webBase}/missing` }),
};

describeEnvConformance(realHarness);
