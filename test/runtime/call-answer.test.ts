import { expect } from 'chai';
import { formatValue, renderAnswer } from '../../src/cli/answer.js';
import { DistError } from '../../src/lib/errors.js';

describe('call CLI: how an answer is shown', () => {
  it('JSON when JSON carries the value unchanged, else an inspection that keeps what JSON would lose', () => {
    expect(formatValue({ name: 'ada', tags: ['x'], n: 1.5, ok: null })).to.equal('{"name":"ada","tags":["x"],"n":1.5,"ok":null}');
    expect(formatValue('text')).to.equal('"text"');
    expect(formatValue(10n)).to.equal('10n');
    expect(formatValue(new Map([['k', 1]]))).to.equal("Map(1) { 'k' => 1 }");
    expect(formatValue({ when: undefined })).to.equal('{ when: undefined }');
    expect(formatValue(undefined)).to.equal('undefined');
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(formatValue(cycle)).to.include('[Circular');
  });

  it('a value exits 0; an error prints its code and exits 1; a timeout says what to check', () => {
    expect(renderAnswer(null, [1, 2], 'n1')).to.deep.equal({ stdout: '[1,2]\n', stderr: '', exitCode: 0 });
    const missing = renderAnswer(new DistError('E_KV_NOT_FOUND', 'no key k'), undefined, 'n1');
    expect(missing).to.deep.equal({ stdout: '', stderr: 'E_KV_NOT_FOUND: no key k\n', exitCode: 1 });
    const silent = renderAnswer(new DistError('E_NODE_TIMEOUT', 'no reply'), undefined, 'n1 at 127.0.0.1:9001');
    expect(silent.exitCode).to.equal(1);
    expect(silent.stderr).to.include('no answer from n1 at 127.0.0.1:9001').and.include('DISTRIBUTION_SECRET');
    expect(renderAnswer(new Error('plain'), undefined, 'n1').stderr).to.equal('error: plain\n');
  });

  it("a group service's (errors, values): both shown, exit 1 only when some member failed", () => {
    expect(renderAnswer({}, { a: 1 }, 'n1')).to.deep.equal({ stdout: '{"errors":{},"values":{"a":1}}\n', stderr: '', exitCode: 0 });
    const partial = renderAnswer({ sidB: new Error('down') }, { sidA: 1 }, 'n1');
    expect(partial.exitCode).to.equal(1);
    expect(partial.stdout).to.include('sidB').and.include('down');
  });
});
