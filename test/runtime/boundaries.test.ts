import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const runtimeSrc = fileURLToPath(new URL('../../../src/runtime/', import.meta.url));

describe('runtime boundaries', () => {
  it('src/runtime never imports src/sim', () => {
    const offenders = readdirSync(runtimeSrc)
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => /from\s+['"][^'"]*\/sim\/|import\(['"][^'"]*\/sim\//.test(readFileSync(`${runtimeSrc}${file}`, 'utf8')));
    expect(offenders).to.deep.equal([]);
  });
});
