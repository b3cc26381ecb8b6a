import { expect } from 'chai';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { decode, deserialize, encode, nativePaths, registerClass, serialize, shipErrorStacks } from '../../src/serialize/index.js';
import { sameGraph } from './graph.js';

const require = createRequire(import.meta.url);
const forms = [
  { name: 'text', trip: (v: unknown) => deserialize(serialize(v)) },
  { name: 'binary', trip: (v: unknown) => decode(encode(v)) },
];

function expectSame(a: unknown, b: unknown): void {
  const problem = sameGraph(a, b);
  expect(problem, problem).to.equal(undefined);
}

class Point {
  constructor(public x: number, public y: number) {}
  norm(): number { return Math.hypot(this.x, this.y); }
}
registerClass(Point);

for (const { name, trip } of forms) {
  describe(`serialize (${name} form)`, () => {
    it('round-trips numbers, including NaN, ±Infinity and -0', () => {
      for (const n of [0, -0, 1, -1, 127, 128, -129, 65_536, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1.5, -1e-300, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE]) {
        expect(Object.is(trip(n), n), String(n)).to.equal(true);
      }
    });

    it('round-trips strings with any escapes and any code points', () => {
      for (const s of ['', 'a', 'quote " back \\ slash', 'line\nfeed\ttab\u0000nul', 'é ü 漢字 🎉', '\ud800 lone surrogate', 'x'.repeat(85), 'é'.repeat(86), 'y'.repeat(100_000)]) {
        const back = trip(s) as string;
        // A lone surrogate is not representable in UTF-8: the binary form replaces it, the text form keeps it.
        if (name === 'binary' && s.includes('\ud800')) expect(back).to.equal(s.replace('\ud800', '\ufffd'));
        else expect(back).to.equal(s);
      }
    });

    it('round-trips ASCII strings and keys of every short length, and one non-ASCII byte at any place', () => {
      for (let length = 0; length <= 40; length++) {
        const text = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95))).join('');
        expect(trip(text)).to.equal(text);
        expect(trip({ [text]: text })).to.deep.equal({ [text]: text });
        for (let at = 0; at < length; at++) {
          const mixed = `${text.slice(0, at)}é${text.slice(at + 1)}`;
          expect(trip(mixed)).to.equal(mixed);
        }
      }
    });

    it('round-trips booleans, null and undefined, also inside arrays and objects', () => {
      expectSame(trip([true, false, null, undefined]), [true, false, null, undefined]);
      const o = { a: undefined, b: null, c: true };
      const back = trip(o) as Record<string, unknown>;
      expectSame(back, o);
      expect(Object.keys(back)).to.deep.equal(['a', 'b', 'c']);
    });

    it('round-trips BigInt beyond 2^53', () => {
      for (const b of [0n, -1n, 2n ** 53n + 1n, -(10n ** 40n), 2n ** 200n]) expect(trip(b)).to.equal(b);
    });

    it('round-trips Dates to the same time, invalid ones too', () => {
      const d = new Date(1_700_000_000_123);
      expect((trip(d) as Date).getTime()).to.equal(d.getTime());
      expect(Number.isNaN((trip(new Date(NaN)) as Date).getTime())).to.equal(true);
    });

    it('round-trips Errors with name, message, cause and extra fields', () => {
      const cause = new RangeError('inner');
      const e = Object.assign(new TypeError('outer', { cause }), { code: 'E_X', attempt: 3 });
      const back = trip(e) as TypeError & { code: string; attempt: number };
      expect(back).to.be.instanceOf(TypeError);
      expect(back.message).to.equal('outer');
      expect(back.code).to.equal('E_X');
      expect(back.attempt).to.equal(3);
      expect(back.cause).to.be.instanceOf(RangeError);
      expect(back.stack).to.not.equal(e.stack); // stacks stay home unless shipErrorStacks(true)
      expect(Object.keys(back)).to.deep.equal(['code', 'attempt']);
      const custom = new Error('custom');
      custom.name = 'ValidationError';
      expect((trip(custom) as Error).name).to.equal('ValidationError');
    });

    it('round-trips sparse and nested arrays, keeping holes and length', () => {
      const sparse = [1, , 3, , ,];
      const back = trip(sparse) as unknown[];
      expect(back.length).to.equal(5);
      expect(1 in back).to.equal(false);
      expect(4 in back).to.equal(false);
      expectSame(back, sparse);
      const huge: unknown[] = [];
      huge[1_000_000] = 'far';
      huge[3] = 'near';
      const hugeBack = trip(huge) as unknown[];
      expect(hugeBack.length).to.equal(1_000_001);
      expect(Object.keys(hugeBack)).to.deep.equal(['3', '1000000']);
      expectSame(trip([[1, [2, [3, { a: [4] }]]]]), [[1, [2, [3, { a: [4] }]]]]);
    });

    it('round-trips functions: arrow, classic, method shorthand, async, generator, class', async () => {
      const o = {
        arrow: (a: number, b: number) => a + b,
        classic: function classic(x: number) { return x * 2; },
        shorthand(x: number) { return x - 1; },
        async later(x: number) { return x + 100; },
        *gen() { yield 1; yield 2; },
        log: () => 42,
        Klass: class Klass { v = 7; },
      };
      const back = trip(o) as typeof o;
      expect(back.arrow(2, 3)).to.equal(5);
      expect(back.classic(4)).to.equal(8);
      expect(back.shorthand(4)).to.equal(3);
      expect(await back.later(1)).to.equal(101);
      expect([...back.gen()]).to.deep.equal([1, 2]);
      expect(back.log()).to.equal(42);
      expect(new back.Klass().v).to.equal(7);
      for (const key of Object.keys(o) as Array<keyof typeof o>) expect(back[key].name, key).to.equal(o[key].name);
    });

    it('ships error stacks only when asked to', () => {
      const e = new Error('with stack');
      shipErrorStacks(true);
      try {
        expect((trip(e) as Error).stack).to.equal(e.stack);
      } finally {
        shipErrorStacks(false);
      }
    });

    it('keeps two references to one function as one function, with its name', () => {
      const f = (x: number) => x;
      const back = trip({ f, g: f, list: [f] }) as { f: Function; g: Function; list: Function[] };
      expect(back.f).to.equal(back.g);
      expect(back.list[0]).to.equal(back.f);
      expect(back.f.name).to.equal('f');
    });

    it('lets shipped functions call require', () => {
      const usesRequire = () => require('node:path').join('a', 'b');
      expect((trip(usesRequire) as () => string)()).to.equal(path.join('a', 'b'));
    });

    it('keeps cycles and shared references with identity', () => {
      const o: any = { l: [1] };
      o.l.push(o);
      o.self = o;
      o.x = o.l;
      const back = trip(o) as any;
      expect(back.self).to.equal(back);
      expect(back.l[1]).to.equal(back);
      expect(back.x).to.equal(back.l);
      const m = new Map<unknown, unknown>();
      m.set(m, m);
      const mb = trip(m) as Map<unknown, unknown>;
      expect([...mb][0]).to.deep.equal([mb, mb]);
      expectSame(trip(o), o);
    });

    it('brings native functions of built-in modules back as the identical object', () => {
      for (const fn of [fs.readFile, require('console').log, path.join, fs.promises.readFile, Math.max, JSON.parse, Array.prototype.map, require('events').EventEmitter]) {
        expect(trip(fn), fn.name).to.equal(fn);
      }
    });

    it('round-trips Map, Set, RegExp, typed arrays, DataView, ArrayBuffer and Buffer', () => {
      const values: unknown[] = [
        new Map<unknown, unknown>([[1, 'one'], [{ k: 1 }, [2]], ['s', new Set([1])]]),
        new Set([1, 'a', { b: 2 }]),
        /a+b*/giu,
        new Int8Array([-1, 2]), new Uint8Array([1, 255]), new Uint8ClampedArray([3]), new Int16Array([-300]), new Uint16Array([65_535]),
        new Int32Array([-5]), new Uint32Array([4e9]), new Float32Array([1.5]), new Float64Array([Math.PI, NaN]),
        new BigInt64Array([-5n]), new BigUint64Array([2n ** 64n - 1n]), new DataView(new Uint8Array([9, 8]).buffer),
        new Uint8Array([1, 2, 3]).buffer, Buffer.from('bytes'), new Uint8Array(new ArrayBuffer(16), 4, 4),
      ];
      for (const v of values) expectSame(trip(v), v);
    });

    it('rebuilds instances of registered classes with their prototype', () => {
      const back = trip({ p: new Point(3, 4) }) as { p: Point };
      expect(back.p).to.be.instanceOf(Point);
      expect(back.p.norm()).to.equal(5);
    });

    it('sends instances of unregistered classes as plain objects of their own fields', () => {
      class Unregistered { a = 1; }
      const back = trip(new Unregistered()) as object;
      expect(Object.getPrototypeOf(back)).to.equal(Object.prototype);
      expect(back).to.deep.equal({ a: 1 });
    });

    it('keeps null-prototype objects and a __proto__ key as data', () => {
      const bare = Object.create(null) as Record<string, unknown>;
      bare.a = 1;
      const back = trip(bare) as object;
      expect(Object.getPrototypeOf(back)).to.equal(null);
      const tricky = JSON.parse('{"__proto__": {"polluted": true}}') as object;
      const trickyBack = trip(tricky) as Record<string, unknown>;
      expect(Object.getPrototypeOf(trickyBack)).to.equal(Object.prototype);
      expect(Object.keys(trickyBack)).to.deep.equal(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('refuses what cannot travel with coded errors', () => {
      const cases: Array<[unknown, string]> = [
        [Symbol('s'), 'E_SERIALIZE_UNSUPPORTED'], [{ s: Symbol.iterator }, 'E_SERIALIZE_UNSUPPORTED'],
        [new WeakMap(), 'E_SERIALIZE_UNSUPPORTED'], [new WeakSet(), 'E_SERIALIZE_UNSUPPORTED'],
        [Promise.resolve(1), 'E_SERIALIZE_UNSUPPORTED'], [new WeakRef({}), 'E_SERIALIZE_UNSUPPORTED'],
        [new Number(1), 'E_SERIALIZE_UNSUPPORTED'], [Math.max.bind(null), 'E_SERIALIZE_NATIVE_UNKNOWN'],
      ];
      for (const [value, code] of cases) {
        const encodeIt = name === 'text' ? () => serialize(value) : () => encode(value);
        expect(encodeIt, String(code)).to.throw().with.property('code', code);
      }
    });

    it('refuses functions and natives when told to', () => {
      const refuse = name === 'text'
        ? (v: unknown) => deserialize(serialize(v), { functions: false })
        : (v: unknown) => decode(encode(v), { functions: false });
      expect(() => refuse({ f: () => 1 })).to.throw().with.property('code', 'E_DESERIALIZE_FUNCTIONS_REFUSED');
      expect(() => refuse([fs.readFile])).to.throw().with.property('code', 'E_DESERIALIZE_FUNCTIONS_REFUSED');
      expect(refuse({ plain: [1, 'data'] })).to.deep.equal({ plain: [1, 'data'] });
    });

    it('bounds nesting with a coded error on both sides', () => {
      let deep: unknown[] = [];
      for (let i = 0; i < 999; i++) deep = [deep];
      expect(() => trip(deep)).not.to.throw();
      let tooDeep: unknown[] = [];
      for (let i = 0; i < 1_000_000; i++) tooDeep = [tooDeep];
      expect(() => trip(tooDeep)).to.throw().with.property('code', 'E_SERIALIZE_TOO_DEEP');
    });
  });
}

describe('serialize: the course text format', () => {
  it('spells primitives exactly as the course does', () => {
    expect(serialize(1)).to.equal('{"type":"number","value":"1"}');
    expect(serialize(NaN)).to.equal('{"type":"number","value":"NaN"}');
    expect(serialize('a"b')).to.equal('{"type":"string","value":"a\\"b"}');
    expect(serialize(true)).to.equal('{"type":"boolean","value":"true"}');
    expect(serialize(null)).to.equal('{"type":"null","value":""}');
    expect(serialize(undefined)).to.equal('{"type":"undefined","value":""}');
    expect(serialize(10n)).to.equal('{"type":"bigint","value":"10"}');
    expect(serialize(new Date(0))).to.equal('{"type":"date","value":"1970-01-01T00:00:00.000Z"}');
    expect(serialize(fs.readFile)).to.equal('{"type":"native","value":"fs.readFile"}');
  });

  it('spells references as paths of quoted keys and numeric indices', () => {
    const o: any = { l: [1] };
    o.l.push(o);
    o.x = o.l;
    expect(serialize(o)).to.equal('{"type":"object","value":{"l":{"type":"array","value":{"0":{"type":"number","value":"1"},"1":{"type":"reference","value":[]}}},"x":{"type":"reference","value":["\\"l\\""]}}}');
  });

  it('is deterministic and never mutates its input', () => {
    const o: any = { a: [1, { b: new Map([[1, 2]]) }], f: () => 1 };
    o.a.push(o);
    const before = JSON.stringify(Object.keys(o)) + o.a.length;
    expect(serialize(o)).to.equal(serialize(o));
    expect(Buffer.from(encode(o)).equals(Buffer.from(encode(o)))).to.equal(true);
    expect(JSON.stringify(Object.keys(o)) + o.a.length).to.equal(before);
  });

  it('reads what the course reference implementation writes, and the reverse', function () {
    this.timeout(30_000);
    // In a fresh process: the reference walks every object reachable from Node's module cache when it
    // loads, and fails ("too many properties to enumerate") once this process has loaded lmdb and friends.
    const script = fileURLToPath(new URL('./reference-interop.js', import.meta.url));
    const report = JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' })) as Record<string, boolean>;
    expect(Object.keys(report).length).to.be.greaterThan(5);
    for (const [check, ok] of Object.entries(report)) expect(ok, check).to.equal(true);
  });

  it('throws SyntaxError, TypeError and coded errors for bad documents', () => {
    expect(() => deserialize('{not json')).to.throw(SyntaxError);
    expect(() => deserialize(42 as unknown as string)).to.throw(TypeError).with.property('code', 'E_DESERIALIZE_NOT_STRING');
    expect(() => deserialize('{"type":"teapot","value":""}')).to.throw(Error).with.property('code', 'E_DESERIALIZE_UNKNOWN_TYPE');
    expect(() => deserialize('{"type":"reference","value":["\\"nowhere\\""]}')).to.throw().with.property('code', 'E_DESERIALIZE_BAD_REFERENCE');
    expect(() => deserialize('{"type":"number","value":"abc"}')).to.throw().with.property('code', 'E_DESERIALIZE_MALFORMED');
    expect(() => deserialize('[1,2]')).to.throw().with.property('code', 'E_DESERIALIZE_MALFORMED');
    expect(() => deserialize('{"type":"function","value":"not a function ("}')).to.throw().with.property('code', 'E_DESERIALIZE_BAD_FUNCTION');
    expect(() => deserialize('{"type":"native","value":"fs.readFile.constructor"}')).to.throw().with.property('code', 'E_DESERIALIZE_NATIVE_UNKNOWN');
    expect(() => deserialize('{"type":"class","name":"Nobody","value":{}}')).to.throw().with.property('code', 'E_DESERIALIZE_UNKNOWN_CLASS');
  });
});

describe('serialize: native functions', () => {
  it('indexes every function of every built-in module and brings each back identical', function () {
    const paths = nativePaths();
    expect(paths.length).to.be.greaterThan(1_500);
    expect(paths).to.include.members(['fs.readFile', 'path.join', 'console.log', 'globalThis.Math.max', 'http.createServer']);
    for (const nativePath of paths) {
      const text = `{"type":"native","value":${JSON.stringify(nativePath)}}`;
      const fn = deserialize(text) as Function;
      expect(serialize(fn), nativePath).to.equal(text);
      expect(decode(encode(fn))).to.equal(fn);
    }
  });

  it('never indexes functions reachable only through globals the program added', () => {
    (globalThis as Record<string, unknown>).__userGlobal = { helper: () => 1 };
    try {
      expect(nativePaths().some((p) => p.includes('__userGlobal'))).to.equal(false);
      expect(nativePaths().some((p) => p.startsWith('globalThis.globalThis'))).to.equal(false);
    } finally {
      delete (globalThis as Record<string, unknown>).__userGlobal;
    }
  });

  it('resolves aliases of an indexed function to the same object', () => {
    expect(deserialize('{"type":"native","value":"fs.promises.readFile"}')).to.equal(fs.promises.readFile);
  });
});

describe('serialize: binary form errors', () => {
  it('throws coded errors for truncated, unknown and trailing input', () => {
    const bytes = encode({ a: [1, 'text', { b: 2 }] });
    expect(() => decode(bytes.subarray(0, bytes.length - 1))).to.throw().with.property('code', 'E_DESERIALIZE_TRUNCATED');
    expect(() => decode(new Uint8Array([0x7f]))).to.throw().with.property('code', 'E_DESERIALIZE_UNKNOWN_TYPE');
    expect(() => decode(new Uint8Array([0x01, 0x01]))).to.throw().with.property('code', 'E_DESERIALIZE_MALFORMED');
    expect(() => decode(new Uint8Array([0x13, 9, 0, 0, 0]))).to.throw().with.property('code', 'E_DESERIALIZE_BAD_REFERENCE');
    expect(() => decode(new Uint8Array([0x0c, 0xff, 0xff, 0xff, 0xff]))).to.throw().with.property('code', 'E_DESERIALIZE_MALFORMED');
    expect(() => decode(new Uint8Array())).to.throw().with.property('code', 'E_DESERIALIZE_TRUNCATED');
    expect(() => decode('text' as unknown as Uint8Array)).to.throw(TypeError);
  });

  it('a document never sees the objects of the one decoded before it (decoders are reused)', () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { list: [shared, shared] };
    cyclic['self'] = cyclic;
    for (let i = 0; i < 3; i++) {
      const copy = decode(encode(cyclic)) as { self: unknown; list: unknown[] };
      expect(copy.self).to.equal(copy);
      expect(copy.list[0]).to.equal(copy.list[1]);
      // Object 0 is a reference the previous document defined, and this one does not.
      expect(() => decode(new Uint8Array([0x13, 0, 0, 0, 0]))).to.throw().with.property('code', 'E_DESERIALIZE_BAD_REFERENCE');
      // A failed document leaves nothing behind either.
      const partial = encode({ a: [shared, shared] });
      expect(() => decode(partial.subarray(0, partial.length - 1))).to.throw().with.property('code', 'E_DESERIALIZE_TRUNCATED');
    }
  });
});
