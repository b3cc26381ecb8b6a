/** The package's root export. */
export { serialize, deserialize, encode, decode, registerClass } from './serialize/index.js';
export type { DeserializeOptions } from './serialize/index.js';
export { DistError, hasCode } from './lib/errors.js';
export type * from './env/index.js';
