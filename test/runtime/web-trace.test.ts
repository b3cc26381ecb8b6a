import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { WebResponse } from '../../src/env/index.js';
import { HttpWeb, RealClock, RealTrace } from '../../src/runtime/index.js';
import { tempDir, until } from './helpers.js';

describe('runtime web (real HTTP on loopback) and trace', () => {
  let server: http.Server;
  let base = '';
  const openResponses = new Set<http.ServerResponse>();

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/big') res.end(Buffer.alloc(10_000));
      else if (req.url === '/stream') {
        // No content-length: the limit must hold while streaming.
        res.writeHead(200);
        for (let i = 0; i < 20; i++) res.write(Buffer.alloc(1_000));
        res.end();
      } else if (req.url === '/hang') openResponses.add(res); // never answers
      else res.end('small');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of openResponses) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function get(web: HttpWeb, url: string): Promise<WebResponse> {
    return new Promise((resolve) => web.get(url, resolve));
  }

  it('refuses non-http URLs, bodies over the limit (declared or streamed), and times out', async () => {
    const web = new HttpWeb({ timeoutMs: 200, bodyBytesMax: 5_000 });
    const codes = await Promise.all(['file:///etc/passwd', 'not a url', `${base}/big`, `${base}/stream`, `${base}/hang`].map(async (url) => {
      const r = await get(web, url);
      return r.ok ? `status ${r.status}` : r.error.code;
    }));
    expect(codes).to.deep.equal(['E_WEB_BAD_URL', 'E_WEB_BAD_URL', 'E_WEB_TOO_LARGE', 'E_WEB_TOO_LARGE', 'E_WEB_TIMEOUT']);
    const small = await get(web, `${base}/small`);
    expect(small.ok && Buffer.from(small.body).toString()).to.equal('small');
    web.close();
  });

  it('trace writes NDJSON lines when given a file', async () => {
    const dir = tempDir('trace');
    try {
      const path = join(dir.path, 'trace.ndjson');
      const trace = new RealTrace('n1', new RealClock(), path);
      trace.event('hello', { n: 1 });
      trace.event('big', { value: 10n });
      await trace.close();
      const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.map((l) => [l['node'], l['kind']])).to.deep.equal([['n1', 'hello'], ['n1', 'big']]);
      expect(lines[0]!['n']).to.equal(1);
      expect(lines[1]!['value']).to.equal('10');
    } finally {
      dir.remove();
    }
  });

  it('until() helper rejects after its bound', async () => {
    const error = await until(() => false, 20, 'never').then(() => undefined, (e: Error) => e);
    expect(error?.message).to.match(/never/);
  });
});
