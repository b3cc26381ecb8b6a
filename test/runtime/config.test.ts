import { expect } from 'chai';
import { checkProtectedMode, createRuntime, isLoopbackHost, parseAddress, resolveConfig } from '../../src/runtime/index.js';
import { hasCode } from '../../src/lib/errors.js';
import { tempDir } from './helpers.js';

describe('runtime config and protected mode', () => {
  it('treats 127.0.0.0/8, ::1 and localhost as loopback, nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host), host).to.equal(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host), host).to.equal(false);
  });

  it('refuses a non-loopback bind without a secret, allows it with one', () => {
    expect(checkProtectedMode('127.0.0.1', undefined)).to.equal(undefined);
    expect(checkProtectedMode('0.0.0.0', undefined)?.code).to.equal('E_RUNTIME_PROTECTED');
    expect(checkProtectedMode('10.1.2.3', '')?.code).to.equal('E_RUNTIME_PROTECTED');
    expect(checkProtectedMode('0.0.0.0', 's3cret')).to.equal(undefined);
  });

  it('createRuntime refuses to start on 0.0.0.0 without a secret, before binding anything', async () => {
    const dir = tempDir('protected');
    const saved = process.env['DISTRIBUTION_SECRET'];
    delete process.env['DISTRIBUTION_SECRET'];
    try {
      const error = await createRuntime({ nodeId: 'p1', dataDir: dir.path, listen: { host: '0.0.0.0', port: 0 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasCode(error, 'E_RUNTIME_PROTECTED')).to.equal(true);
    } finally {
      if (saved !== undefined) process.env['DISTRIBUTION_SECRET'] = saved;
      dir.remove();
    }
  });

  it('reports a taken port as E_NET_LISTEN and releases what it opened', async () => {
    const dir = tempDir('listen');
    const first = await createRuntime({ nodeId: 'l1', dataDir: `${dir.path}/l1` });
    try {
      const error = await createRuntime({ nodeId: 'l2', dataDir: `${dir.path}/l2`, listen: { port: first.address.port } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasCode(error, 'E_NET_LISTEN')).to.equal(true);
    } finally {
      await first.close();
      dir.remove();
    }
  });

  it('validates fields up front with E_CONFIG', () => {
    const bad = [
      { nodeId: 'has space', dataDir: '/tmp/x' },
      { nodeId: 'n1', dataDir: '' },
      { nodeId: 'n1', dataDir: '/tmp/x', listen: { port: 70_000 } },
      { nodeId: 'n1', dataDir: '/tmp/x', net: { payloadBytesMax: 0 } },
      { nodeId: 'n1', dataDir: '/tmp/x', net: { reconnectDelayMsMin: 100, reconnectDelayMsMax: 10 } },
      { nodeId: 'n1', dataDir: '/tmp/x', directory: { n2: 'nohostport' } },
    ];
    for (const config of bad) {
      let error: unknown;
      try {
        resolveConfig(config);
      } catch (e) {
        error = e;
      }
      expect(hasCode(error, 'E_CONFIG'), JSON.stringify(config)).to.equal(true);
    }
  });

  it('parses host:port including bracketed IPv6', () => {
    expect(parseAddress('127.0.0.1:7000')).to.deep.equal({ host: '127.0.0.1', port: 7000 });
    expect(parseAddress('[::1]:7001')).to.deep.equal({ host: '::1', port: 7001 });
  });
});
