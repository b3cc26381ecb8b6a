/**
 * The text form: the course's interchange format, spoken exactly so course nodes and ours understand
 * each other. Every value is `{"type": T, "value": V}`; a repeated or cyclic object is
 * `{"type":"reference","value": PATH}`, PATH being the steps from the root (array indices as numbers,
 * object keys as JSON-quoted strings). Kinds the course lacks get their own type names (see README),
 * so a course node fails loudly on them instead of guessing. Extra sibling keys carry what the course
 * format cannot say and course readers ignore: `"length"` of a sparse array with trailing holes,
 * `"name"` of a function whose source does not imply it, `"proto": null` of a null-prototype object.
 */
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { compileFunction, describeFunction, nativeFunction, shippedName } from './functions.js';
import { documentBytesMax, nestingDepthMax } from './limits.js';
import {
  type DeserializeOptions, asStackOverflow, Kind, arrayIndex, arrayScanLengthMax, classify, errorKeys, presentIndices, unsupportedError, newError, newRegisteredInstance, registeredClassName, setErrorField,
  typedArrayFrom, typedArrayName, viewBytes,
} from './model.js';

// ---- writing ------------------------------------------------------------------------------------

/** Where an object was first met: its parent's record and the step from there; the path is only
 * materialised when a reference to it is written. */
interface FirstSeen {
  readonly parent: FirstSeen | undefined;
  readonly step: string | number;
}

class TextWriter {
  private readonly seen = new Map<object, FirstSeen>();
  private depth = 0;

  write(value: unknown, parent: FirstSeen | undefined, step: string | number): string {
    const kind = classify(value);
    switch (kind) {
      case Kind.Number: return `{"type":"number","value":"${Object.is(value, -0) ? '-0' : String(value)}"}`;
      case Kind.String: return `{"type":"string","value":${JSON.stringify(value)}}`;
      case Kind.Boolean: return `{"type":"boolean","value":"${String(value)}"}`;
      case Kind.Undefined: return '{"type":"undefined","value":""}';
      case Kind.Null: return '{"type":"null","value":""}';
      case Kind.BigInt: return `{"type":"bigint","value":"${String(value)}"}`;
      case Kind.Unsupported: throw unsupportedError(value, describePath(parent, step));
      default: return this.writeObject(value as object, kind, parent, step);
    }
  }

  private writeObject(value: object, kind: Kind, parent: FirstSeen | undefined, step: string | number): string {
    const earlier = this.seen.get(value);
    if (earlier !== undefined) return `{"type":"reference","value":${JSON.stringify(pathSteps(earlier))}}`;
    const here: FirstSeen = { parent, step };
    this.seen.set(value, here);
    if (++this.depth > nestingDepthMax) throw tooDeep(describePath(parent, step));
    try {
      return this.writeKind(value, kind, here);
    } finally {
      this.depth--;
    }
  }

  private writeKind(value: object, kind: Kind, here: FirstSeen): string {
    switch (kind) {
      case Kind.Array: return this.writeArray(value as unknown[], here);
      case Kind.Object: return this.writePlainObject(value as Record<string, unknown>, here);
      case Kind.Date: return `{"type":"date","value":${JSON.stringify(dateText(value as Date))}}`;
      case Kind.Error: return `{"type":"error","value":{"type":"object","value":${this.writeFields(value, errorKeys(value as Error), here)}}}`;
      case Kind.Function: return writeFunction(value as Function, here);
      case Kind.Map: return `{"type":"map","value":[${this.writeEntries(value as Map<unknown, unknown>, here)}]}`;
      case Kind.Set: return `{"type":"set","value":[${[...(value as Set<unknown>)].map((item, i) => this.write(item, here, i)).join(',')}]}`;
      case Kind.RegExp: return `{"type":"regexp","value":${JSON.stringify({ source: (value as RegExp).source, flags: (value as RegExp).flags })}}`;
      case Kind.TypedArray: return `{"type":"typedarray","kind":"${typedArrayName(value as ArrayBufferView)}","value":"${Buffer.from(viewBytes(value as ArrayBufferView)).toString('base64')}"}`;
      case Kind.ArrayBuffer: return `{"type":"arraybuffer","value":"${Buffer.from(value as ArrayBuffer).toString('base64')}"}`;
      case Kind.Buffer: return `{"type":"buffer","value":"${(value as Buffer).toString('base64')}"}`;
      case Kind.Class: return `{"type":"class","name":${JSON.stringify(registeredClassName(Object.getPrototypeOf(value) as object))},"value":${this.writeFields(value, Object.keys(value), here)}}`;
      default: throw new DistError('E_SERIALIZE_UNSUPPORTED', `kind ${kind} has no text form`);
    }
  }

  private writeArray(array: unknown[], here: FirstSeen): string {
    let body = '';
    let last = -1;
    const length = array.length;
    // Index by index for ordinary arrays (no closure: this is the deep-recursion path); huge sparse ones
    // by their present keys.
    const indices = length <= arrayScanLengthMax ? undefined : presentIndices(array);
    for (let at = 0, end = indices?.length ?? length; at < end; at++) {
      const index = indices === undefined ? at : (indices[at] as number);
      const item = array[index];
      if (item === undefined && !(index in array)) continue;
      body += `${last < 0 ? '' : ','}"${index}":${this.write(item, here, index)}`;
      last = index;
    }
    const lengthField = last + 1 === length ? '' : `,"length":${length}`;
    return `{"type":"array","value":{${body}}${lengthField}}`;
  }

  private writePlainObject(object: Record<string, unknown>, here: FirstSeen): string {
    const proto = Object.getPrototypeOf(object) === null ? ',"proto":null' : '';
    return `{"type":"object","value":${this.writeFields(object, Object.keys(object), here)}${proto}}`;
  }

  private writeFields(object: object, keys: readonly string[], here: FirstSeen): string {
    let body = '';
    for (const key of keys) {
      const field = this.write((object as Record<string, unknown>)[key], here, key);
      body += `${body === '' ? '' : ','}${JSON.stringify(key)}:${field}`;
    }
    return `{${body}}`;
  }

  private writeEntries(map: Map<unknown, unknown>, here: FirstSeen): string {
    const entries: string[] = [];
    let i = 0;
    for (const [key, value] of map) {
      // An entry is a step of its own (index), then 0 for the key and 1 for the value.
      const entry: FirstSeen = { parent: here, step: i++ };
      entries.push(`[${this.write(key, entry, 0)},${this.write(value, entry, 1)}]`);
    }
    return entries.join(',');
  }
}

function writeFunction(fn: Function, here: FirstSeen): string {
  const described = describeFunction(fn, () => describePath(here.parent, here.step));
  if (typeof described === 'string') return `{"type":"native","value":${JSON.stringify(described)}}`;
  const name = shippedName(fn, described);
  return `{"type":"function","value":${JSON.stringify(described.source)}${name === undefined ? '' : `,"name":${JSON.stringify(name)}`}}`;
}

function dateText(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
}

function pathSteps(record: FirstSeen): Array<string | number> {
  const steps: Array<string | number> = [];
  for (let at: FirstSeen | undefined = record; at?.parent !== undefined; at = at.parent) {
    steps.push(typeof at.step === 'number' ? at.step : JSON.stringify(at.step));
  }
  return steps.reverse();
}

function describePath(parent: FirstSeen | undefined, step: string | number): string {
  if (parent === undefined) return 'the root';
  return `path ${JSON.stringify(pathSteps({ parent, step }))}`;
}

function tooDeep(where: string): DistError {
  return new DistError('E_SERIALIZE_TOO_DEEP', `nesting deeper than ${nestingDepthMax} at ${where}`, { depthMax: nestingDepthMax });
}

/** Serializes any value the system ships into the course's text format. Never mutates its input. */
export function serialize(value: unknown): string {
  try {
    return new TextWriter().write(value, undefined, '');
  } catch (error) {
    throw asStackOverflow(error, 'E_SERIALIZE_TOO_DEEP');
  }
}

// ---- reading ------------------------------------------------------------------------------------

interface Node {
  readonly type: unknown;
  readonly value: unknown;
  readonly [extra: string]: unknown;
}

class TextReader {
  /** Objects by path key (the steps joined by commas), only when the document has references. */
  private readonly byPath: Map<string, unknown> | undefined;
  private depth = 0;

  constructor(private readonly functionsAllowed: boolean, hasReferences: boolean) {
    this.byPath = hasReferences ? new Map() : undefined;
  }

  read(node: unknown, at: Path): unknown {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) throw malformed('a node must be an object {type, value}', at);
    const { type, value } = node as Node;
    switch (type) {
      case 'number': return readNumber(value, at);
      case 'string': return expectString(value, at);
      case 'boolean': return readBoolean(value, at);
      case 'undefined': return undefined;
      case 'null': return null;
      case 'bigint': return readBigInt(value, at);
      case 'reference': return this.readReference(value, at);
      default: return this.readObject(node as Node, at);
    }
  }

  private readObject(node: Node, at: Path): unknown {
    if (++this.depth > nestingDepthMax) throw new DistError('E_DESERIALIZE_TOO_DEEP', `nesting deeper than ${nestingDepthMax}`, { depthMax: nestingDepthMax });
    try {
      return this.readKind(node, at);
    } finally {
      this.depth--;
    }
  }

  private readKind(node: Node, at: Path): unknown {
    const { type, value } = node;
    switch (type) {
      case 'array': return this.readArray(node, at);
      case 'object': return this.readFields(this.register(node.proto === null ? Object.create(null) : {}, at), value, at);
      case 'date': return this.register(new Date(expectString(value, at)), at);
      case 'error': return this.readError(value, at);
      case 'function': return this.register(this.readFunction(node, at), at);
      case 'native': return this.register(this.readNative(value, at), at);
      case 'map': return this.readMap(value, at);
      case 'set': return this.readSet(value, at);
      case 'regexp': return this.register(readRegExp(value, at), at);
      case 'typedarray': return this.register(typedArrayFrom(expectString(node.kind, at), base64(value, at)), at);
      case 'arraybuffer': return this.register(new Uint8Array(base64(value, at)).buffer, at);
      case 'buffer': return this.register(Buffer.from(base64(value, at)), at);
      case 'class': return this.readFields(this.register(newRegisteredInstance(expectString(node.name, at)), at), value, at);
      default: throw new DistError('E_DESERIALIZE_UNKNOWN_TYPE', `unknown type tag ${JSON.stringify(type)}`, { type, path: pathKey(at) });
    }
  }

  private register<T>(object: T, at: Path): T {
    if (this.byPath !== undefined) this.byPath.set(pathKey(at), object);
    return object;
  }

  private readArray(node: Node, at: Path): unknown[] {
    const body = expectRecord(node.value, at);
    const array: unknown[] = this.register([], at);
    for (const key of Object.keys(body)) {
      const index = arrayIndex(key);
      if (index < 0) throw malformed(`array index '${key}' is not a non-negative integer`, at);
      array[index] = this.read(body[key], { parent: at, step: index });
    }
    if (node.length !== undefined) array.length = readLength(node.length, array.length, at);
    return array;
  }

  private readFields<T extends object>(target: T, value: unknown, at: Path): T {
    const body = expectRecord(value, at);
    for (const key of Object.keys(body)) {
      const field = this.read(body[key], { parent: at, step: key });
      // A key named `__proto__` must stay data, never set the prototype.
      if (key === '__proto__') Object.defineProperty(target, key, { value: field, writable: true, enumerable: true, configurable: true });
      else (target as Record<string, unknown>)[key] = field;
    }
    return target;
  }

  private readError(value: unknown, at: Path): Error {
    const inner = expectRecord(value, at);
    const fields = expectRecord(inner.value, at);
    const name = fields.name === undefined ? 'Error' : this.read(fields.name, { parent: at, step: 'name' });
    const message = fields.message === undefined ? '' : this.read(fields.message, { parent: at, step: 'message' });
    const error = this.register(newError(name, message), at);
    for (const key of Object.keys(fields)) {
      if (key === 'name' || key === 'message') continue;
      setErrorField(error, key, this.read(fields[key], { parent: at, step: key }));
    }
    return error;
  }

  private readFunction(node: Node, at: Path): Function {
    this.refuseCode(at);
    const name = node.name === undefined ? undefined : expectString(node.name, at);
    return compileFunction(expectString(node.value, at), name);
  }

  private readNative(value: unknown, at: Path): Function {
    this.refuseCode(at);
    return nativeFunction(expectString(value, at));
  }

  private refuseCode(at: Path): void {
    if (!this.functionsAllowed) throw new DistError('E_DESERIALIZE_FUNCTIONS_REFUSED', 'this input may not carry functions', { path: pathKey(at) });
  }

  private readMap(value: unknown, at: Path): Map<unknown, unknown> {
    if (!Array.isArray(value)) throw malformed('a map carries an array of [key, value] entries', at);
    const map = this.register(new Map<unknown, unknown>(), at);
    value.forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw malformed('a map entry is [key, value]', at);
      const entry: Path = { parent: at, step: i };
      map.set(this.read(pair[0], { parent: entry, step: 0 }), this.read(pair[1], { parent: entry, step: 1 }));
    });
    return map;
  }

  private readSet(value: unknown, at: Path): Set<unknown> {
    if (!Array.isArray(value)) throw malformed('a set carries an array of items', at);
    const set = this.register(new Set<unknown>(), at);
    value.forEach((item: unknown, i) => set.add(this.read(item, { parent: at, step: i })));
    return set;
  }

  private readReference(value: unknown, at: Path): unknown {
    if (!Array.isArray(value) || !value.every((step) => typeof step === 'string' || Number.isInteger(step))) {
      throw malformed('a reference carries an array of steps', at);
    }
    const key = value.map((step) => String(step)).join(',');
    if (this.byPath === undefined || !this.byPath.has(key)) {
      throw new DistError('E_DESERIALIZE_BAD_REFERENCE', `reference to ${JSON.stringify(value)} points at nothing read so far`, { path: pathKey(at) });
    }
    return this.byPath.get(key);
  }
}

/** Where a node sits: its parent's path and the step from there. Built as the reader descends (cheap),
 * turned into text only to register an object for references or to say where an error is. */
interface Path {
  readonly parent: Path | undefined;
  readonly step: string | number;
}

const rootPath: Path = { parent: undefined, step: '' };

/** Path keys are the steps joined by commas, a key as its JSON-quoted string and an index as is,
 * matching how the course spells the steps of a reference (so a reference's key is its steps joined). */
function pathKey(at: Path): string {
  const tokens: string[] = [];
  for (let here: Path | undefined = at; here?.parent !== undefined; here = here.parent) {
    tokens.push(typeof here.step === 'number' ? String(here.step) : JSON.stringify(here.step));
  }
  return tokens.reverse().join(',');
}

function malformed(what: string, at: Path): DistError {
  const path = pathKey(at);
  return new DistError('E_DESERIALIZE_MALFORMED', `${what} (at [${path}])`, { path });
}

function expectString(value: unknown, at: Path): string {
  if (typeof value !== 'string') throw malformed('expected a string value', at);
  return value;
}

function expectRecord(value: unknown, at: Path): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('expected an object value', at);
  return value as Record<string, unknown>;
}

function readNumber(value: unknown, at: Path): number {
  const number = Number(expectString(value, at));
  if (Number.isNaN(number) && value !== 'NaN') throw malformed('a number is a decimal, NaN or ±Infinity', at);
  return number;
}

function readBoolean(value: unknown, at: Path): boolean {
  if (value === 'true' || value === true) return true;
  if (value === 'false' || value === false) return false;
  throw malformed('a boolean is "true" or "false"', at);
}

function readBigInt(value: unknown, at: Path): bigint {
  const text = expectString(value, at);
  if (!/^-?\d{1,100000}$/.test(text)) throw malformed('a bigint is a decimal integer', at);
  return BigInt(text);
}

function readLength(value: unknown, least: number, at: Path): number {
  if (!Number.isInteger(value) || (value as number) < least || (value as number) > 2 ** 32 - 1) throw malformed('bad array length', at);
  return value as number;
}

function readRegExp(value: unknown, at: Path): RegExp {
  const { source, flags } = expectRecord(value, at);
  try {
    return new RegExp(expectString(source, at), expectString(flags, at));
  } catch (cause) {
    throw new DistError('E_DESERIALIZE_MALFORMED', 'invalid regular expression', { path: pathKey(at) }, { cause });
  }
}

function base64(value: unknown, at: Path): Uint8Array {
  const text = expectString(value, at);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw malformed('expected base64 bytes', at);
  return Buffer.from(text, 'base64');
}

/** Reads the course's text format back into a value. Malformed text throws a SyntaxError; well-formed
 * documents that break the format throw a coded DistError; a non-string throws a TypeError. */
export function deserialize(text: string, options: DeserializeOptions = {}): unknown {
  if (typeof text !== 'string') throw Object.assign(new TypeError('deserialize expects a string'), { code: 'E_DESERIALIZE_NOT_STRING' });
  if (text.length > documentBytesMax) throw new DistError('E_DESERIALIZE_TOO_LARGE', `document over ${documentBytesMax} characters`, { length: text.length });
  const tree: unknown = JSON.parse(text);
  const reader = new TextReader(options.functions !== false, text.includes('"reference"'));
  try {
    return reader.read(tree, rootPath);
  } catch (error) {
    throw asStackOverflow(error, 'E_DESERIALIZE_TOO_DEEP');
  }
}

assert(nestingDepthMax > 0);
