import { expect } from 'chai';
import { scanSource, scanTree } from '../../src/sim/one-rule.js';

const fixture = [
  '// Date.now() and Math.random() in a comment are fine',
  "const s = 'setTimeout in a string is fine';",
  'const t = `template ${Date.now()} text`;',
  "import fs from 'node:fs';",
  'import { request } from "https";',
  'const x = Math.random();',
  'setTimeout(() => {}, 1);',
  'globalThis.setInterval(f, 2);',
  'const r = crypto.randomUUID();',
  'const h = process.hrtime.bigint();',
  'performance.now();',
  "fetch('http://x');",
  'env.web.get(url); myDate(); env.timers.set(1, f); env.clock.now();',
  "const cp = require('child_process');",
  "const w = await import('worker_threads');",
  'new Date();',
  "import { randomBytes } from 'node:crypto';",
  "import * as dgram from 'dgram';",
  "export { connect } from 'net';",
  'setImmediate(go);',
].join('\n');

describe('the one rule (no direct time, randomness, I/O in protocols and apps)', () => {
  it('the scanner flags every direct use in a fixture, with its line', () => {
    const found = scanSource(fixture, 'fixture.ts').map((f) => `${f.line}:${f.rule}`);
    expect(found).to.deep.equal([
      '3:Date',
      '4:import fs',
      '5:import https',
      '6:Math.random',
      '7:timer global',
      '8:timer global',
      '9:crypto random',
      '10:process clock',
      '11:performance.now',
      '12:global fetch',
      '14:import child_process',
      '15:import worker_threads',
      '16:Date',
      '17:crypto random',
      '18:import dgram',
      '19:import net',
      '20:timer global',
    ]);
  });

  it('the scanner passes clean code that talks about banned things only in comments and strings', () => {
    const clean = "/** Never call Date.now() or setTimeout here. */\nconst note = 'fetch( is a word';\nenv.timers.set(5, () => env.net.send('n1', 'c', bytes));\n";
    expect(scanSource(clean)).to.deep.equal([]);
  });

  it('src/protocols and src/apps use time, randomness, network, disk and processes only through Env', () => {
    const findings = scanTree(['src/protocols', 'src/apps']);
    expect(findings.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.text}`)).to.deep.equal([]);
  });
});
