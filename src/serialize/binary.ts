/**
 * The binary form: the same type model as the text form (model.ts), spelled as tagged bytes for the
 * project's own nodes. References are object ids in order of first appearance instead of paths, small
 * integers take one byte, strings are length-prefixed UTF-8.
 *
 * Layout: one tag byte per value, then its body. Lengths and counts are little-endian uint32 unless the
 * tag says otherwise. Every count and length read from input is checked against the bytes that remain,
 * so no input makes the decoder allocate or loop beyond what its size allows.
 */
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { compileFunction, describeFunction, nativeFunction, shippedName } from './functions.js';
import { StringCache } from './string-cache.js';
import { documentBytesMax, nestingDepthMax } from './limits.js';
import {
  type DeserializeOptions, asStackOverflow, Kind, arrayScanLengthMax, classify, presentIndices, errorKeys, newError, newRegisteredInstance, registeredClassName,
  setErrorField, typedArrayFrom, typedArrayName, typedArrayNames, unsupportedError, viewBytes,
} from './model.js';

const Tag = {
  Undefined: 0x00, Null: 0x01, False: 0x02, True: 0x03,
  Int8: 0x04, Int16: 0x05, Int32: 0x06, Float64: 0x07,
  String8: 0x08, String32: 0x09, BigInt: 0x0a, Date: 0x0b,
  Array: 0x0c, Hole: 0x0d, Object: 0x0e, NullProtoObject: 0x0f,
  Error: 0x10, Function: 0x11, Native: 0x12, Reference: 0x13,
  Map: 0x14, Set: 0x15, RegExp: 0x16, TypedArray: 0x17,
  ArrayBuffer: 0x18, Buffer: 0x19, Class: 0x1a, SparseArray: 0x1b,
  /** 0x80 | n for integers 0..127. */
  FixInt: 0x80,
} as const;

/** Strings up to this many UTF-16 units fit a one-byte length (3 bytes per unit at most: 85 * 3 = 255). */
const shortStringUnitsMax = 85;
/** Size of the chunks encoded documents are carved from. */
const chunkBytes = 16_384;
const functionNamePresent = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

// ---- encoding -----------------------------------------------------------------------------------

/**
 * Encoded documents are carved one after another out of a shared chunk and returned as views into it:
 * allocating an ArrayBuffer per message costs more than encoding a small one. A retained result pins
 * at most its chunk (`chunkBytes`), and a chunk is never written again once a view into it is out.
 */
class Encoder {
  private buffer = new Uint8Array(chunkBytes);
  private view = new DataView(this.buffer.buffer);
  /** Where the document being encoded starts in the chunk. */
  private start = 0;
  private position = 0;
  private depth = 0;
  /** Objects met so far in this document, by id (order of first visit). The first one (usually the
   * root, often the only one: a record) is kept in a field: a Map entry and the Map's `clear`, which
   * allocates a fresh table, cost about a fifth of encoding a small record. */
  private first: object | undefined;
  private readonly seen = new Map<object, number>();
  busy = false;

  encode(value: unknown): Uint8Array {
    this.start = this.position;
    this.depth = 0;
    this.busy = true;
    try {
      this.write(value);
      return this.buffer.subarray(this.start, this.position);
    } catch (error) {
      this.position = this.start;
      throw error;
    } finally {
      this.busy = false;
      this.first = undefined;
      if (this.seen.size !== 0) this.seen.clear();
    }
  }

  /** Makes room for `bytes` more; moves the document so far into a fresh chunk when this one is full. */
  private ensure(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.length) return;
    const documentBytes = this.position - this.start;
    if (documentBytes + bytes > documentBytesMax) throw new DistError('E_SERIALIZE_TOO_LARGE', `encoded value over ${documentBytesMax} bytes`);
    const fresh = new Uint8Array(Math.min(documentBytesMax, Math.max(chunkBytes, (documentBytes + bytes) * 2)));
    fresh.set(this.buffer.subarray(this.start, this.position));
    this.buffer = fresh;
    this.view = new DataView(fresh.buffer);
    this.start = 0;
    this.position = documentBytes;
  }

  private byte(value: number): void {
    this.ensure(1);
    this.buffer[this.position++] = value;
  }

  private uint32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.position, value, true);
    this.position += 4;
  }

  private write(value: unknown): void {
    const kind = classify(value);
    switch (kind) {
      case Kind.Number: return this.number(value as number);
      case Kind.String: return this.string(value as string);
      case Kind.Boolean: return this.byte(value ? Tag.True : Tag.False);
      case Kind.Undefined: return this.byte(Tag.Undefined);
      case Kind.Null: return this.byte(Tag.Null);
      case Kind.BigInt: this.byte(Tag.BigInt); return this.rawString(String(value));
      case Kind.Unsupported: throw unsupportedError(value, 'a value being encoded');
      default: return this.object(value as object, kind);
    }
  }

  private number(value: number): void {
    if (value >= 0 && value < 128 && Number.isInteger(value) && !Object.is(value, -0)) return this.byte(Tag.FixInt | value);
    this.ensure(9);
    const at = this.position;
    if ((value | 0) === value && !Object.is(value, -0)) {
      if (value >= -128 && value < 128) {
        this.buffer[at] = Tag.Int8;
        this.view.setInt8(at + 1, value);
        this.position += 2;
      } else if (value >= -32_768 && value < 32_768) {
        this.buffer[at] = Tag.Int16;
        this.view.setInt16(at + 1, value, true);
        this.position += 3;
      } else {
        this.buffer[at] = Tag.Int32;
        this.view.setInt32(at + 1, value, true);
        this.position += 5;
      }
      return;
    }
    this.buffer[at] = Tag.Float64;
    this.view.setFloat64(at + 1, value, true);
    this.position += 9;
  }

  private string(value: string): void {
    if (value.length <= shortStringUnitsMax) {
      this.ensure(2 + value.length * 3);
      this.buffer[this.position] = Tag.String8;
      this.position += 2;
      const bytes = this.utf8(value);
      this.buffer[this.position - bytes - 1] = bytes;
      return;
    }
    this.byte(Tag.String32);
    this.rawString(value);
  }

  /** A uint32 byte length, then the UTF-8 bytes (no tag). */
  private rawString(value: string): void {
    this.ensure(4 + value.length * 3);
    const lengthAt = this.position;
    this.position += 4;
    const bytes = this.utf8(value);
    this.view.setUint32(lengthAt, bytes, true);
  }

  /** Writes `value` as UTF-8 at the position and returns its byte count; ASCII by hand (the common case,
   * and faster than a native call for short strings), anything else through TextEncoder. */
  private utf8(value: string): number {
    const start = this.position;
    const buffer = this.buffer;
    const length = value.length;
    if (length < 32) {
      let i = 0;
      for (; i < length; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0x80) break;
        buffer[start + i] = unit;
      }
      if (i === length) {
        this.position += length;
        return length;
      }
    }
    const { written } = textEncoder.encodeInto(value, buffer.subarray(start));
    this.position += written;
    return written;
  }

  private object(value: object, kind: Kind): void {
    const id = value === this.first ? 0 : this.seen.get(value);
    if (id !== undefined) {
      this.byte(Tag.Reference);
      return this.uint32(id);
    }
    if (this.first === undefined) this.first = value;
    else this.seen.set(value, this.seen.size + 1);
    if (++this.depth > nestingDepthMax) throw new DistError('E_SERIALIZE_TOO_DEEP', `nesting deeper than ${nestingDepthMax}`, { depthMax: nestingDepthMax });
    this.objectBody(value, kind);
    this.depth--;
  }

  private objectBody(value: object, kind: Kind): void {
    switch (kind) {
      case Kind.Array: return this.array(value as unknown[]);
      case Kind.Object: return this.fields(Object.getPrototypeOf(value) === null ? Tag.NullProtoObject : Tag.Object, value, Object.keys(value));
      case Kind.Date: this.byte(Tag.Date); this.ensure(8); this.view.setFloat64(this.position, (value as Date).getTime(), true); this.position += 8; return;
      case Kind.Error: return this.fields(Tag.Error, value, errorKeys(value as Error));
      case Kind.Function: return this.func(value as Function);
      case Kind.Map: return this.map(value as Map<unknown, unknown>);
      case Kind.Set: return this.set(value as Set<unknown>);
      case Kind.RegExp: this.byte(Tag.RegExp); this.rawString((value as RegExp).source); return this.rawString((value as RegExp).flags);
      case Kind.TypedArray: return this.typedArray(value as ArrayBufferView);
      case Kind.ArrayBuffer: this.byte(Tag.ArrayBuffer); return this.bytes(new Uint8Array(value as ArrayBuffer));
      case Kind.Buffer: this.byte(Tag.Buffer); return this.bytes(value as Buffer);
      case Kind.Class: this.byte(Tag.Class); this.rawString(registeredClassName(Object.getPrototypeOf(value) as object) as string); return this.fields(undefined, value, Object.keys(value));
      default: throw new DistError('E_SERIALIZE_UNSUPPORTED', `kind ${kind} has no binary form`);
    }
  }

  private array(array: unknown[]): void {
    const length = array.length;
    if (length > arrayScanLengthMax) {
      // One scan of the present keys decides and, for a sparse array, is the encoding's index list.
      const indices = presentIndices(array);
      if (indices.length < length / 2) return this.sparseArray(array, length, indices);
    }
    this.byte(Tag.Array);
    this.uint32(length);
    for (let i = 0; i < length; i++) {
      const item = array[i];
      if (item === undefined && !(i in array)) this.byte(Tag.Hole);
      else this.write(item);
    }
  }

  private sparseArray(array: unknown[], length: number, indices: readonly number[]): void {
    this.byte(Tag.SparseArray);
    this.uint32(length);
    this.uint32(indices.length);
    for (const index of indices) {
      this.uint32(index);
      this.write(array[index]);
    }
  }

  private fields(tag: number | undefined, object: object, keys: readonly string[]): void {
    if (tag !== undefined) this.byte(tag);
    this.uint32(keys.length);
    for (const key of keys) {
      this.rawString(key);
      this.write((object as Record<string, unknown>)[key]);
    }
  }

  private func(fn: Function): void {
    const described = describeFunction(fn, () => 'a value being encoded');
    if (typeof described === 'string') {
      this.byte(Tag.Native);
      return this.rawString(described);
    }
    this.byte(Tag.Function);
    // The source's UTF-8 is kept with the function's record: the same functions ship again and again.
    described.bytes ??= textEncoder.encode(described.source);
    this.bytes(described.bytes);
    const name = shippedName(fn, described);
    if (name === undefined) return this.byte(0);
    this.byte(functionNamePresent);
    this.rawString(name);
  }

  private map(map: Map<unknown, unknown>): void {
    this.byte(Tag.Map);
    this.uint32(map.size);
    for (const [key, value] of map) {
      this.write(key);
      this.write(value);
    }
  }

  private set(set: Set<unknown>): void {
    this.byte(Tag.Set);
    this.uint32(set.size);
    for (const item of set) this.write(item);
  }

  private typedArray(view: ArrayBufferView): void {
    this.byte(Tag.TypedArray);
    this.byte(typedArrayNames.indexOf(typedArrayName(view)));
    this.bytes(viewBytes(view));
  }

  private bytes(bytes: Uint8Array): void {
    this.uint32(bytes.byteLength);
    this.ensure(bytes.byteLength);
    this.buffer.set(bytes, this.position);
    this.position += bytes.byteLength;
  }
}


// ---- decoding -----------------------------------------------------------------------------------

/** Marks an object id whose object is still being built (only errors: they need name and message first). */
const underConstruction = Symbol('under construction');
const emptyInput = new Uint8Array(0);

/**
 * One document at a time; reused across documents like the encoder (a fresh decoder and its growing
 * reference table per message were a good part of what a call allocates). `refs` keeps its capacity;
 * `refCount` says how much of it this document uses, and the end of `decode` clears that much, so a
 * decoded value is never kept alive by the decoder.
 */
class Decoder {
  private position = 0;
  private depth = 0;
  private readonly refs: unknown[] = [];
  private refCount = 0;
  private input: Uint8Array = emptyInput;
  private functionsAllowed = false;
  busy = false;

  decode(bytes: Uint8Array, functionsAllowed: boolean): unknown {
    this.input = bytes;
    this.functionsAllowed = functionsAllowed;
    this.position = 0;
    this.depth = 0;
    this.busy = true;
    try {
      const value = this.read();
      if (this.position !== this.input.length) throw malformed(`${this.input.length - this.position} bytes after the value`, this.position);
      return value;
    } finally {
      for (let i = 0; i < this.refCount; i++) this.refs[i] = undefined;
      this.refCount = 0;
      this.input = emptyInput;
      this.busy = false;
    }
  }

  private need(bytes: number): void {
    if (this.position + bytes > this.input.length) throw new DistError('E_DESERIALIZE_TRUNCATED', `input ends inside a value (needs ${bytes} bytes at ${this.position})`, { offset: this.position });
  }

  private byte(): number {
    this.need(1);
    return this.input[this.position++] as number;
  }

  /** Little-endian integers by hand: cheaper than a DataView per document for small messages. */
  private uint32(): number {
    this.need(4);
    const b = this.input;
    const at = this.position;
    this.position += 4;
    return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) + (b[at + 3] as number) * 0x1000000;
  }

  /** A count of items that each take at least `bytesEach` bytes: checked against what remains. */
  private count(bytesEach: number): number {
    const count = this.uint32();
    if (count * bytesEach > this.input.length - this.position) throw malformed(`count ${count} exceeds the remaining input`, this.position);
    return count;
  }

  private read(): unknown {
    const tag = this.byte();
    if (tag >= Tag.FixInt) return tag & 0x7f;
    switch (tag) {
      case Tag.Undefined: return undefined;
      case Tag.Null: return null;
      case Tag.False: return false;
      case Tag.True: return true;
      case Tag.Int8: return (this.byte() << 24) >> 24;
      case Tag.Int16: this.need(2); this.position += 2; return (((this.input[this.position - 2] as number) | ((this.input[this.position - 1] as number) << 8)) << 16) >> 16;
      case Tag.Int32: return this.uint32() | 0;
      case Tag.Float64: return this.float64();
      case Tag.String8: return this.utf8(this.byte());
      case Tag.String32: return this.rawString();
      case Tag.BigInt: return this.bigint();
      case Tag.Reference: return this.reference();
      default: return this.object(tag);
    }
  }

  private float64(): number {
    this.need(8);
    for (let i = 0; i < 8; i++) scratchBytes[i] = this.input[this.position + i] as number;
    this.position += 8;
    return scratchFloat[0] as number;
  }

  private rawString(): string {
    return this.utf8(this.uint32());
  }

  /** Short ASCII strings by hand; TextDecoder for the rest (measured: a hand loop wins below 16 bytes,
   * `String.fromCharCode.apply` over a subarray loses to TextDecoder). */
  private utf8(length: number): string {
    this.need(length);
    const input = this.input;
    const start = this.position;
    const end = start + length;
    this.position = end;
    if (length < handDecodedBytesMax) {
      for (let i = start; i < end; i++) if ((input[i] as number) >= 0x80) return textDecoder.decode(input.subarray(start, end));
      return asciiShort(input, start, length);
    }
    return textDecoder.decode(input.subarray(start, end));
  }

  /** A length-prefixed string through a cache by content (object keys, function sources). */
  private cachedString(cache: StringCache): string {
    const length = this.uint32();
    if (length === 0 || length > cache.bytesMax) return this.utf8(length);
    this.need(length);
    const start = this.position;
    const cached = cache.lookup(this.input, start, length);
    if (cached !== undefined) {
      this.position += length;
      return cached;
    }
    const text = this.utf8(length);
    cache.remember(this.input, start, length, text);
    return text;
  }

  private bigint(): bigint {
    const text = this.rawString();
    if (!/^-?\d+$/.test(text)) throw malformed('a bigint is a decimal integer', this.position);
    return BigInt(text);
  }

  private reference(): unknown {
    const id = this.uint32();
    if (id >= this.refCount || this.refs[id] === underConstruction) throw new DistError('E_DESERIALIZE_BAD_REFERENCE', `reference to object ${id}, which is not read yet`, { id });
    return this.refs[id];
  }

  private object(tag: number): unknown {
    if (++this.depth > nestingDepthMax) throw new DistError('E_DESERIALIZE_TOO_DEEP', `nesting deeper than ${nestingDepthMax}`, { depthMax: nestingDepthMax });
    const value = this.objectBody(tag);
    this.depth--;
    return value;
  }

  private objectBody(tag: number): unknown {
    switch (tag) {
      case Tag.Array: return this.array();
      case Tag.SparseArray: return this.sparseArray();
      case Tag.Object: return this.fields(this.register({}));
      case Tag.NullProtoObject: return this.fields(this.register(Object.create(null) as object));
      case Tag.Date: return this.register(new Date(this.float64()));
      case Tag.Error: return this.error();
      case Tag.Function: return this.func();
      case Tag.Native: this.refuseCode(); return this.register(nativeFunction(this.rawString()));
      case Tag.Map: return this.map();
      case Tag.Set: return this.set();
      case Tag.RegExp: return this.regexp();
      case Tag.TypedArray: return this.typedArray();
      case Tag.ArrayBuffer: return this.register(new Uint8Array(this.bytes()).buffer);
      case Tag.Buffer: return this.register(Buffer.from(this.bytes()));
      case Tag.Class: return this.fields(this.register(newRegisteredInstance(this.rawString())));
      case Tag.Hole: throw malformed('a hole outside an array', this.position - 1);
      default: throw new DistError('E_DESERIALIZE_UNKNOWN_TYPE', `unknown type tag 0x${tag.toString(16)}`, { tag, offset: this.position - 1 });
    }
  }

  private register<T>(object: T): T {
    this.refs[this.refCount++] = object;
    return object;
  }

  private array(): unknown[] {
    const length = this.count(1);
    const array: unknown[] = this.register(new Array(length));
    for (let i = 0; i < length; i++) {
      if (this.input[this.position] === Tag.Hole) this.position++;
      else array[i] = this.read();
    }
    return array;
  }

  private sparseArray(): unknown[] {
    const length = this.uint32();
    const present = this.count(5);
    const array: unknown[] = this.register([]);
    for (let i = 0; i < present; i++) {
      const index = this.uint32();
      if (index >= length) throw malformed(`index ${index} beyond length ${length}`, this.position);
      array[index] = this.read();
    }
    array.length = length;
    return array;
  }

  private fields<T extends object>(target: T): T {
    const count = this.count(5);
    for (let i = 0; i < count; i++) {
      const key = this.cachedString(keyCache);
      // defineProperty, not assignment: a key named `__proto__` must stay data, never set the prototype.
      if (key === '__proto__') Object.defineProperty(target, key, { value: this.read(), writable: true, enumerable: true, configurable: true });
      else (target as Record<string, unknown>)[key] = this.read();
    }
    return target;
  }

  /** Name and message come first (the encoder writes them first); the error is built and registered
   * before any other field is read, so a cause or field can point back at it. */
  private error(): Error {
    const id = this.refCount;
    this.register(underConstruction);
    const count = this.count(5);
    const head: { name: unknown; message: unknown } = { name: 'Error', message: '' };
    let error: Error | undefined;
    for (let i = 0; i < count; i++) {
      const key = this.rawString();
      if (error === undefined && (key === 'name' || key === 'message')) {
        head[key] = this.read();
        continue;
      }
      error ??= this.registerAt(id, newError(head.name, head.message));
      setErrorField(error, key, this.read());
    }
    return error ?? this.registerAt(id, newError(head.name, head.message));
  }

  private registerAt<T>(id: number, object: T): T {
    this.refs[id] = object;
    return object;
  }

  private func(): Function {
    this.refuseCode();
    const source = this.cachedString(sourceCache);
    const name = this.byte() === functionNamePresent ? this.rawString() : undefined;
    return this.register(compileFunction(source, name));
  }

  private refuseCode(): void {
    if (!this.functionsAllowed) throw new DistError('E_DESERIALIZE_FUNCTIONS_REFUSED', 'this input may not carry functions', { offset: this.position });
  }

  private map(): Map<unknown, unknown> {
    const size = this.count(2);
    const map = this.register(new Map<unknown, unknown>());
    for (let i = 0; i < size; i++) map.set(this.read(), this.read());
    return map;
  }

  private set(): Set<unknown> {
    const size = this.count(1);
    const set = this.register(new Set<unknown>());
    for (let i = 0; i < size; i++) set.add(this.read());
    return set;
  }

  private regexp(): RegExp {
    const source = this.rawString();
    const flags = this.rawString();
    try {
      return this.register(new RegExp(source, flags));
    } catch (cause) {
      throw new DistError('E_DESERIALIZE_MALFORMED', 'invalid regular expression', { offset: this.position }, { cause });
    }
  }

  private typedArray(): ArrayBufferView {
    const name = typedArrayNames[this.byte()];
    if (name === undefined) throw malformed('unknown typed array kind', this.position - 1);
    return this.register(typedArrayFrom(name, this.bytes()));
  }

  private bytes(): Uint8Array {
    const length = this.count(1);
    this.position += length;
    return this.input.subarray(this.position - length, this.position);
  }
}

const fromCodes = String.fromCharCode as (...codes: (number | undefined)[]) => string;

/**
 * ASCII bytes to a string with one `String.fromCharCode` call of explicit arguments (as msgpackr does),
 * rather than adding one character at a time, which builds a rope of one-character strings: decoding a
 * five-property record went from ~400 to ~310 ns.
 */
function asciiShort(b: Uint8Array, at: number, length: number): string {
  switch (length) {
    case 0: return '';
    case 1: return String.fromCharCode(b[at] as number);
    case 2: return fromCodes(b[at], b[at + 1]);
    case 3: return fromCodes(b[at], b[at + 1], b[at + 2]);
    case 4: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3]);
    case 5: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4]);
    case 6: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]);
    case 7: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6]);
    case 8: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7]);
    case 9: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8]);
    case 10: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9]);
    case 11: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9], b[at + 10]);
    case 12: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9], b[at + 10], b[at + 11]);
    case 13: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9], b[at + 10], b[at + 11], b[at + 12]);
    case 14: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9], b[at + 10], b[at + 11], b[at + 12], b[at + 13]);
    case 15: return fromCodes(b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7], b[at + 8], b[at + 9], b[at + 10], b[at + 11], b[at + 12], b[at + 13], b[at + 14]);
    default:
      assert(false, 'asciiShort: at most handDecodedBytesMax - 1 bytes');
      return '';
  }
}

/** Strings shorter than this are decoded by hand when they are ASCII. */
const handDecodedBytesMax = 16;
/** Object keys repeat across records; function sources repeat across tasks. */
const keyCache = new StringCache(4_096, 32);
const sourceCache = new StringCache(1_024, 4_096);

/** Float64 decoding through one shared 8-byte scratch (the platform is little-endian, asserted below). */
const scratchFloat = new Float64Array(1);
const scratchBytes = new Uint8Array(scratchFloat.buffer);
assert(new Uint8Array(new Uint16Array([1]).buffer)[0] === 1, 'the binary form assumes a little-endian platform');

function malformed(what: string, offset: number): DistError {
  return new DistError('E_DESERIALIZE_MALFORMED', `${what} (at byte ${offset})`, { offset });
}

let idleEncoder: Encoder | undefined;
let idleDecoder: Decoder | undefined;

/**
 * Encodes any value the system ships into bytes (the binary form of the shared type model).
 *
 * The result is a view into a shared 16 KiB chunk that is never written again (allocating a buffer per
 * message costs about a third of encoding a small one). Send it, write it, hash it as it is; but code
 * that keeps encoded values for long (a cache, an in-memory store) should keep `bytes.slice()`, so one
 * small value does not pin its whole chunk.
 */
export function encode(value: unknown): Uint8Array {
  // A getter that encodes while we encode must not share the buffer: it gets its own encoder.
  const encoder = idleEncoder !== undefined && !idleEncoder.busy ? idleEncoder : new Encoder();
  idleEncoder ??= encoder;
  try {
    return encoder.encode(value);
  } catch (error) {
    throw asStackOverflow(error, 'E_SERIALIZE_TOO_DEEP');
  }
}

/** Decodes bytes made by `encode`. Bad bytes give a coded DistError, never a crash or a hang. */
export function decode(bytes: Uint8Array, options: DeserializeOptions = {}): unknown {
  if (!(bytes instanceof Uint8Array)) throw Object.assign(new TypeError('decode expects a Uint8Array'), { code: 'E_DESERIALIZE_NOT_BYTES' });
  if (bytes.byteLength > documentBytesMax) throw new DistError('E_DESERIALIZE_TOO_LARGE', `document over ${documentBytesMax} bytes`, { length: bytes.byteLength });
  if (bytes.byteLength === 0) throw new DistError('E_DESERIALIZE_TRUNCATED', 'empty input', { offset: 0 });
  // A getter or constructor run while decoding could decode too: it gets a decoder of its own.
  const decoder = idleDecoder !== undefined && !idleDecoder.busy ? idleDecoder : new Decoder();
  idleDecoder ??= decoder;
  try {
    return decoder.decode(bytes, options.functions !== false);
  } catch (error) {
    throw asStackOverflow(error, 'E_DESERIALIZE_TOO_DEEP');
  }
}
