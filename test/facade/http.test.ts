/** The course's HTTP PUT wire protocol, with raw requests: good calls and every kind of bad input. */
import { expect } from 'chai';
import { courseBodyBytesMax } from '../../src/runtime/course-http.js';
import { closeNode, freePort, rawRequest, requireFacade, startNode, type Distribution } from './helpers.js';

describe('facade: HTTP PUT wire protocol', function () {
  this.timeout(20_000);
  let d: Distribution;
  let port: number;
  const put = (path: string, body: string | Buffer): ReturnType<typeof rawRequest> => rawRequest(port, 'PUT', path, body);

  before(async () => {
    d = await startNode(requireFacade());
    port = d.node.config.port;
  });
  after(() => closeNode(d));

  it('PUT /local/<service>/<method> with serialize(args) answers serialize([err, value])', async () => {
    const reply = await put('/local/status/get', d.util.serialize(['sid']));
    expect(reply.status).to.equal(200);
    expect(d.util.deserialize(reply.body)).to.deep.equal([null, d.util.id.getSID(d.node.config)]);
  });

  it('a method error comes back as [Error, value]', async () => {
    const [err] = d.util.deserialize((await put('/local/status/get', d.util.serialize(['nope']))).body) as unknown[];
    expect(err).to.be.instanceOf(Error);
  });

  it('another gid dispatches to distribution[gid] (the group aggregate)', async () => {
    const [errors, values] = d.util.deserialize((await put('/all/status/get', d.util.serialize(['nid']))).body) as unknown[];
    expect(errors).to.deep.equal({});
    expect(values).to.deep.equal([d.util.id.getNID(d.node.config)]);
  });

  it('a non-PUT request gets a serialized Error', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const reply = await rawRequest(port, method, '/local/status/get');
      expect(d.util.deserialize(reply.body), method).to.be.instanceOf(Error);
    }
  });

  it('an unknown service or method gets [Error, null]', async () => {
    for (const path of ['/local/nope/get', '/local/status/nope', '/nogroup/status/get', '/local/status/constructor']) {
      const [err, value] = d.util.deserialize((await put(path, d.util.serialize([]))).body) as unknown[];
      expect(err, path).to.be.instanceOf(Error);
      expect(value, path).to.equal(null);
    }
  });

  it('a malformed body, a non-array body, an empty body or a bad path get an error reply and the server keeps serving', async () => {
    const bad: [string, string][] = [
      ['/local/status/get', '{not json'],
      ['/local/status/get', '{"type":"nope","value":""}'],
      ['/local/status/get', d.util.serialize('sid')],
      ['/local/status/get', ''],
      ['/local/status', d.util.serialize([])],
      ['/a/b/c/d', d.util.serialize([])],
      ['/local/%E0%A4%A/get', d.util.serialize([])],
    ];
    for (const [path, body] of bad) {
      const reply = await put(path, body);
      const [err, value] = d.util.deserialize(reply.body) as unknown[];
      expect(err, `${path} ${body}`).to.be.instanceOf(Error);
      expect(value).to.equal(null);
      expect(reply.status).to.be.greaterThanOrEqual(400);
    }
    expect(d.util.deserialize((await put('/local/status/get', d.util.serialize(['port']))).body)).to.deep.equal([null, port]);
  });

  it('a body over the size limit is refused with 413', async () => {
    const reply = await put('/local/status/get', Buffer.alloc(courseBodyBytesMax + 1, 0x20)).catch(() => ({ status: 413, body: '' }));
    expect(reply.status).to.equal(413);
    expect(d.util.deserialize((await put('/local/status/get', d.util.serialize(['port']))).body)).to.deep.equal([null, port]);
  });

  it('a function in the body is compiled and callable on arrival (routes.put over the wire)', async () => {
    const service = { twice: (x: number, cb: (e: unknown, v: unknown) => void) => cb(null, 2 * x) };
    await put('/local/routes/put', d.util.serialize([service, 'twice']));
    expect(d.util.deserialize((await put('/local/twice/twice', d.util.serialize([21]))).body)).to.deep.equal([null, 42]);
  });

  it('with a cluster secret, a request without it is refused and one with it is served', async () => {
    const securePort = await freePort();
    const secure = requireFacade()({ ip: '127.0.0.1', port: securePort, secret: 's3cret' });
    await new Promise<void>((resolve, reject) => secure.node.start((err) => (err ? reject(err) : resolve())));
    try {
      const refused = await rawRequest(securePort, 'PUT', '/local/status/get', d.util.serialize(['sid']));
      expect(refused.status).to.equal(401);
      const served = await rawRequest(securePort, 'PUT', '/local/status/get', d.util.serialize(['port']), { 'x-distribution-secret': 's3cret' });
      expect(d.util.deserialize(served.body)).to.deep.equal([null, securePort]);
      // Its own client carries the secret.
      const [err, value] = await new Promise<unknown[]>((resolve) =>
        (secure.local['comm'] as any).send(['port'], { node: secure.node.config, service: 'status', method: 'get' }, (...r: unknown[]) => resolve(r)));
      expect([err, value]).to.deep.equal([null, securePort]);
    } finally {
      await closeNode(secure);
    }
  });
});
