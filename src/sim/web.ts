/**
 * A seeded synthetic web for the simulator: `pagesCount` HTML pages at `http://web.sim/p/<n>`, each
 * with a title, some words from a small vocabulary, and links to other pages (plus the odd dead link,
 * so crawlers meet 404s). Every page is computed on demand from (seed, n), so the web costs no memory
 * and is the same for the same seed. `http://web.sim/` is an index linking page 0.
 */
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import type { WebResponse } from '../env/index.js';
import { SimRandom } from './random.js';

export const webOrigin = 'http://web.sim';
/** The web never grows past this; a crawler test needs hundreds of pages, not millions. */
export const webPagesMax = 100_000;

const vocabulary = [
  'apple', 'banana', 'cherry', 'distributed', 'system', 'node', 'gossip', 'raft', 'leader', 'term',
  'shard', 'key', 'value', 'map', 'reduce', 'search', 'index', 'page', 'rank', 'crawl', 'link', 'web',
  'clock', 'seed', 'fault', 'crash', 'disk', 'network', 'message', 'quorum', 'replica', 'log',
];

export interface WebPage {
  readonly n: number;
  readonly title: string;
  readonly words: readonly string[];
  /** Page numbers linked; numbers >= pagesCount are dead links (404). */
  readonly links: readonly number[];
}

export class SimWeb {
  private readonly random: SimRandom;
  readonly pagesCount: number;

  constructor(random: SimRandom, pagesCount: number) {
    assert(Number.isInteger(pagesCount) && pagesCount >= 1 && pagesCount <= webPagesMax, `pagesCount out of range: ${pagesCount}`);
    this.random = random;
    this.pagesCount = pagesCount;
  }

  url(n: number): string {
    return `${webOrigin}/p/${n}`;
  }

  page(n: number): WebPage | undefined {
    if (!Number.isInteger(n) || n < 0 || n >= this.pagesCount) return undefined;
    const r = this.random.fork(`page/${n}`);
    const words: string[] = [];
    const wordsCount = r.int(5, 40);
    for (let i = 0; i < wordsCount; i++) words.push(r.pick(vocabulary));
    const links: number[] = [];
    const linksCount = r.int(1, 8);
    for (let i = 0; i < linksCount; i++) {
      // One link in twenty points just past the end of the web: a dead link.
      links.push(r.chance(1, 20) ? this.pagesCount + r.int(0, 10) : r.int(0, this.pagesCount));
    }
    return { n, title: `Page ${n}: ${words[0] ?? ''}`, words, links };
  }

  /** The response for `url`, without timing; the simulator schedules its delivery. */
  respond(url: string): WebResponse {
    const html = this.render(url);
    if (html === undefined) {
      return { ok: true, status: 404, headers: { 'content-type': 'text/plain' }, body: new TextEncoder().encode('not found') };
    }
    return { ok: true, status: 200, headers: { 'content-type': 'text/html' }, body: new TextEncoder().encode(html) };
  }

  private render(url: string): string | undefined {
    if (url === `${webOrigin}/` || url === webOrigin) {
      return `<html><head><title>web.sim</title></head><body><a href="${this.url(0)}">start</a></body></html>`;
    }
    const match = /^http:\/\/web\.sim\/p\/(\d{1,9})$/.exec(url);
    if (match === null) return undefined;
    const page = this.page(Number(match[1]));
    if (page === undefined) return undefined;
    const links = page.links.map((l) => `<a href="${this.url(l)}">${l}</a>`).join(' ');
    return `<html><head><title>${page.title}</title></head><body><p>${page.words.join(' ')}</p><p>${links}</p></body></html>`;
  }
}

export function webUnavailable(url: string): WebResponse {
  return { ok: false, error: new DistError('E_WEB_UNAVAILABLE', `simulated fetch failed: ${url}`, { url }) as Error & { code: string } };
}
