/**
 * The one rule, enforced mechanically: code under src/protocols/ and src/apps/ reaches time, timers,
 * randomness, the network, the disk, processes and the outside web only through its Env. This scanner
 * finds direct uses in source text. Comments and string contents are masked first (so a doc block may
 * say "no Date here"), but module specifiers are kept and checked against the banned modules.
 *
 * It is a linter, not a sandbox: it catches the ordinary ways (globals, imports, requires, dynamic
 * imports), not deliberate obfuscation such as `globalThis['Da' + 'te']`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RuleFinding {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly rule: string;
  readonly text: string;
}

/** Modules that are the outside world (or only the runtime's business). `node:` prefixes are stripped. */
export const bannedModules: ReadonlySet<string> = new Set([
  'fs', 'fs/promises', 'net', 'tls', 'dns', 'dns/promises', 'http', 'https', 'http2', 'child_process', 'dgram',
  'worker_threads', 'cluster', 'timers', 'timers/promises', 'perf_hooks', 'ws', 'lmdb',
]);

interface Pattern {
  readonly rule: string;
  readonly regex: RegExp;
}

/** Patterns over masked code. `(?<![\w$])` keeps `myDate` from matching `Date`. */
const patterns: readonly Pattern[] = [
  { rule: 'Date', regex: /(?<![\w$.])Date\b/g },
  { rule: 'Math.random', regex: /\bMath\s*\.\s*random\b/g },
  { rule: 'timer global', regex: /(?<![\w$])(?:setTimeout|setInterval|setImmediate)\b/g },
  { rule: 'process clock', regex: /\bprocess\s*\.\s*(?:hrtime|uptime)\b/g },
  { rule: 'performance.now', regex: /\bperformance\s*\.\s*now\b/g },
  { rule: 'crypto random', regex: /\bcrypto\s*\.\s*(?:random\w*|getRandomValues)\b/g },
  { rule: 'crypto random', regex: /(?<![\w$.])(?:randomBytes|randomUUID|randomInt|randomFill\w*|getRandomValues)\b/g },
  { rule: 'global fetch', regex: /(?<![\w$.])fetch\s*\(/g },
  { rule: 'global fetch', regex: /\bglobalThis\s*\.\s*fetch\b/g },
  { rule: 'process spawn', regex: /\bprocess\s*\.\s*(?:binding|dlopen)\b/g },
];

/** Specifier positions: `from "x"`, `import "x"`, `import("x")`, `require("x")`. Strings are masked to
 * `"§N"`, so N indexes the original literal. */
const specifierPattern = /\b(?:from|import|require)\s*\(?\s*"§(\d+)"/g;

interface Masked {
  readonly code: string;
  readonly strings: readonly string[];
}

/** Replaces comments with spaces and string literals with `"§N"`, keeping every newline in place so
 * line numbers survive. Template literals mask their text but keep `${ ... }` code. */
export function maskSource(source: string): Masked {
  const out: string[] = [];
  const strings: string[] = [];
  /** For each open `${`, the brace depth at which it closes back into its template. */
  const templateStack: number[] = [];
  let braceDepth = 0;
  let i = 0;
  const n = source.length;
  const blank = (text: string): string => text.replace(/[^\n]/g, ' ');
  const readString = (quote: string, start: number): number => {
    // Returns the index just past the closing quote (or the end of the line for unterminated ones).
    let j = start + 1;
    while (j < n && source[j] !== quote && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
    return Math.min(n, j + 1);
  };
  const readTemplateText = (start: number): number => {
    // From just after ` or }, up to and including the closing ` or the opening ${.
    let j = start;
    while (j < n && source[j] !== '`' && !(source[j] === '$' && source[j + 1] === '{')) j += source[j] === '\\' ? 2 : 1;
    return j;
  };
  const emitTemplateText = (start: number): void => {
    const end = readTemplateText(start);
    strings.push(source.slice(start, end));
    out.push(`§${strings.length - 1}`, blank(source.slice(start, end)).slice(`§${strings.length - 1}`.length));
    if (end >= n) {
      i = n;
    } else if (source[end] === '`') {
      out.push('`');
      i = end + 1;
    } else {
      out.push('${');
      templateStack.push(braceDepth);
      braceDepth++;
      i = end + 2;
    }
  };
  while (i < n) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out.push(blank(source.slice(i, stop)));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out.push(blank(source.slice(i, stop)));
      i = stop;
    } else if (c === '"' || c === "'") {
      const stop = readString(c, i);
      strings.push(source.slice(i + 1, stop - 1));
      const label = `"§${strings.length - 1}"`;
      out.push(label, blank(source.slice(i, stop)).slice(label.length));
      i = stop;
    } else if (c === '`') {
      out.push('`');
      emitTemplateText(i + 1);
    } else if (c === '{') {
      braceDepth++;
      out.push(c);
      i++;
    } else if (c === '}') {
      braceDepth--;
      if (templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth) {
        templateStack.pop();
        out.push('}');
        emitTemplateText(i + 1);
      } else {
        out.push(c);
        i++;
      }
    } else {
      out.push(c);
      i++;
    }
  }
  return { code: out.join(''), strings };
}

function lineAt(code: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (code.charCodeAt(k) === 10) line++;
  return line;
}

/** Findings for one source text. */
export function scanSource(source: string, file = '<source>'): RuleFinding[] {
  const { code, strings } = maskSource(source);
  const sourceLines = source.split('\n');
  const findings: RuleFinding[] = [];
  const add = (index: number, rule: string): void => {
    const line = lineAt(code, index);
    findings.push({ file, line, rule, text: (sourceLines[line - 1] ?? '').trim() });
  };
  for (const { rule, regex } of patterns) {
    for (const match of code.matchAll(regex)) add(match.index ?? 0, rule);
  }
  for (const match of code.matchAll(specifierPattern)) {
    const specifier = strings[Number(match[1])] ?? '';
    const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
    if (bannedModules.has(bare)) add(match.index ?? 0, `import ${bare}`);
  }
  return findings.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
}

/** Directory entries visited per scan; a tree this big is not a source tree. */
const scanFilesMax = 100_000;

/** Findings for every .ts/.js/.mts/.cts file under `roots` (missing roots are skipped). */
export function scanTree(roots: readonly string[]): RuleFinding[] {
  const findings: RuleFinding[] = [];
  const stack = roots.filter((r) => fs.existsSync(r));
  for (let visited = 0; stack.length > 0 && visited < scanFilesMax; visited++) {
    const entry = stack.pop() as string;
    if (fs.statSync(entry).isDirectory()) {
      for (const name of fs.readdirSync(entry).sort()) stack.push(path.join(entry, name));
    } else if (/\.(?:[cm]?ts|[cm]?js)$/.test(entry) && !entry.endsWith('.d.ts')) {
      findings.push(...scanSource(fs.readFileSync(entry, 'utf8'), entry));
    }
  }
  return findings;
}
