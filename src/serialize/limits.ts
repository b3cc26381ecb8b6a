/**
 * Named bounds of the serializer. Every loop over untrusted input is bounded by one of these, so no
 * input can hang the process, overflow the stack or allocate without limit.
 */

/** Deepest nesting of containers (arrays, objects, maps, …) either form accepts or produces. Real
 * messages nest a few dozen levels; 1,000 leaves the recursive walkers room on Node's default stack even
 * when the caller is already 2,000 frames deep (measured: 2,000 levels overflowed the text writer). */
export const nestingDepthMax = 1_000;

/** Largest document `deserialize` / `decode` accepts: 256 MiB. */
export const documentBytesMax = 256 * 1024 * 1024;

/** Most entries the function compile cache keeps before it starts over. Sources repeat (the same map and
 * reduce functions ship with every task), compiling them is the slow part of a function's trip. */
export const compiledFunctionsMax = 1_000;

/** How deep the walk of Node's built-in modules goes when it indexes native functions
 * (`fs.promises.readFile` is depth 3, `events.EventEmitter.prototype.on` is depth 4). */
export const nativeWalkDepthMax = 4;
