/**
 * COURSE-API's local `mem` and `store` services over an engine (engine.ts). `cfg` is a key string,
 * `{key, gid}` or null; keys are namespaced by gid (default `local`).
 *   put(value, cfg)     null key: getID(value); answers the value (store: once it is on disk)
 *   get(cfg)            the value; null key: the gid's keys; missing: E_KV_NOT_FOUND
 *   del(cfg)            the deleted value; missing: E_KV_NOT_FOUND
 *   append(value, cfg)  accumulates into an array (a missing key starts one; a non-array value becomes
 *                       its first element); answers the array
 *   cas(expected, next, cfg)  not a course method: what `reconf` moves keys with (group.ts). `expected`
 *                       and `next` are `{absent: true}` or `{value}`; the key becomes `next` (absent:
 *                       deleted) only if it holds `expected` now, values compared by their serialized
 *                       bytes; answers `{swapped: true}` or `{swapped: false, current}`
 * Bad input answers a coded error and writes nothing: E_KV_BAD_KEY, E_KV_KEY_TOO_LONG, E_KV_BAD_GID,
 * E_KV_BAD_CONFIG, E_KV_VALUE_TOO_LARGE, E_KV_UNSERIALIZABLE, E_KV_DISK (failing or full disk).
 */
import { DistError } from '../../lib/errors.js';
import { encode } from '../../serialize/index.js';
import { getID } from '../node/id.js';
import { defineMethod, type Callback, type Service } from '../node/method.js';
import { checkGid, checkKey, type KvEngine } from './engine.js';

export const localGidDefault = 'local';

export interface KvTarget {
  readonly key: string | null;
  readonly gid: string;
}

/** Parses a course `cfg`; the key stays null when the caller gave none. */
export function parseTarget(cfg: unknown): KvTarget | DistError {
  if (cfg === null || cfg === undefined) return { key: null, gid: localGidDefault };
  if (typeof cfg === 'string') return checkKey(cfg) ?? { key: cfg, gid: localGidDefault };
  if (typeof cfg !== 'object') return new DistError('E_KV_BAD_CONFIG', 'cfg must be a key, {key, gid} or null', { field: 'cfg' });
  const { key, gid } = cfg as { key?: unknown; gid?: unknown };
  const resolvedGid = gid === undefined || gid === null ? localGidDefault : gid;
  const bad = checkGid(resolvedGid) ?? (key === null || key === undefined ? undefined : checkKey(key));
  if (bad !== undefined) return bad;
  return { key: (key ?? null) as string | null, gid: resolvedGid as string };
}

export function notFound(gid: string, key: string): DistError {
  return new DistError('E_KV_NOT_FOUND', `no key ${JSON.stringify(key.slice(0, 80))} in ${gid}`, { gid, key: key.slice(0, 80) });
}

/** The array `append` produces from what is stored. */
export function appended(found: { value: unknown } | undefined, value: unknown): unknown[] {
  if (found === undefined) return [value];
  return Array.isArray(found.value) ? [...found.value, value] : [found.value, value];
}

/** A key's state for `cas`: absent, or holding a value. */
export type Slot = { readonly absent: true } | { readonly value: unknown };

/** What `cas` answers: swapped, or not and what the key holds instead. */
export type CasAnswer = { readonly swapped: true } | { readonly swapped: false; readonly current: Slot };

function isSlot(slot: unknown): slot is Slot {
  return typeof slot === 'object' && slot !== null && ((slot as { absent?: unknown }).absent === true || 'value' in slot);
}

function slotOf(found: { value: unknown } | undefined): Slot {
  return found === undefined ? { absent: true } : { value: found.value };
}

/** Same state: both absent, or values that serialize to the same bytes. */
function sameSlot(a: Slot, b: Slot): boolean {
  if (!('value' in a) || !('value' in b)) return !('value' in a) && !('value' in b);
  const left = encode(a.value);
  const right = encode(b.value);
  return left.length === right.length && left.every((byte, i) => byte === right[i]);
}

/** The four course methods over one engine, and `cas` for reconf. Every reply happens after the write is durable. */
export function createLocalStorage(engine: KvEngine): Service {
  const withTarget = (cfg: unknown, reply: Callback, run: (target: KvTarget) => void): void => {
    const target = parseTarget(cfg);
    if (target instanceof DistError) return reply(target);
    run(target);
  };
  return {
    // Without withTarget's closure: every put pays for this path.
    put: defineMethod(2, ([value, cfg], reply) => {
      const target = parseTarget(cfg);
      if (target instanceof DistError) return reply(target);
      engine.write([{ gid: target.gid, key: target.key ?? getID(value), put: true, value }], (err) => (err === null ? reply(null, value) : reply(err)));
    }),
    get: defineMethod(1, ([cfg], reply) => withTarget(cfg, reply, ({ key, gid }) => {
      if (key === null) return reply(null, engine.keys(gid));
      const found = engine.get(gid, key);
      if (found === undefined) return reply(notFound(gid, key));
      reply(null, found.value);
    }), { idempotent: true }),
    del: defineMethod(1, ([cfg], reply) => withTarget(cfg, reply, ({ key, gid }) => {
      if (key === null) return reply(new DistError('E_KV_BAD_KEY', 'del needs a key', { field: 'key' }));
      const found = engine.get(gid, key);
      if (found === undefined) return reply(notFound(gid, key));
      engine.write([{ gid, key, put: false }], (err) => (err === null ? reply(null, found.value) : reply(err)));
    })),
    cas: defineMethod(3, ([expected, next, cfg], reply) => withTarget(cfg, reply, ({ key, gid }) => {
      if (key === null) return reply(new DistError('E_KV_BAD_KEY', 'cas needs a key', { field: 'key' }));
      if (!isSlot(expected) || !isSlot(next)) return reply(new DistError('E_KV_BAD_CONFIG', 'cas(expected, next, cfg): each {absent: true} or {value}', { field: 'expected' }));
      const current = slotOf(engine.get(gid, key));
      if (!sameSlot(current, expected)) return reply(null, { swapped: false, current });
      if (!('value' in next) && !('value' in current)) return reply(null, { swapped: true });
      const op = 'value' in next ? { gid, key, put: true as const, value: next.value } : { gid, key, put: false as const };
      engine.write([op], (err) => (err === null ? reply(null, { swapped: true }) : reply(err)));
    })),
    append: defineMethod(2, ([value, cfg], reply) => withTarget(cfg, reply, ({ key, gid }) => {
      const k = key ?? getID(value);
      const next = appended(engine.get(gid, k), value);
      engine.write([{ gid, key: k, put: true, value: next }], (err) => (err === null ? reply(null, next) : reply(err)));
    })),
  };
}
