/**
 * The real runtime: the Env implemented with a real clock and timers, seeded or crypto randomness,
 * websockets between nodes, LMDB on disk, child processes as hosts, HTTP as the web, `debug` as the trace.
 * Never imports src/sim. See docs/runtime.md.
 */
export { createRuntime, type Runtime } from './runtime.js';
export {
  checkProtectedMode, isLoopbackHost, isValidNodeId, parseAddress, formatAddress, resolveConfig, toDirectory,
  netLimitsDefault, webLimitsDefault,
  type Address, type Directory, type NetLimits, type WebLimits, type RuntimeConfig, type ResolvedConfig,
} from './config.js';
export { WsNet, type Direction, type NetStats } from './transport.js';
export {
  BusyPoller, processBusyPoller, busyPollDefaults, busyPollEnvVars, busyPollConfigFromEnv, busyPollWindowUsMax,
  type BusyPollConfig, type BusyPollStats,
} from './busy-poll.js';
export { LmdbDisk, diskKeyBytesMax, diskValueBytesMax } from './disk.js';
export { RealClock } from './clock.js';
export { RealTimers } from './timers.js';
export { SeededRandom, cryptoSeed } from './random.js';
export { RealTrace } from './trace.js';
export { HttpWeb } from './web.js';
export { ProcessHosts, spawnUpMsMax } from './hosts.js';
export { launchNode, nodeMainPath, stopGraceMs, type LaunchOptions, type LaunchedNode, type LaunchEvents } from './launcher.js';
export { registerProgram, lookupProgram, programNames } from './programs.js';
export { pingProgram, type PingArgs } from './ping.js';
export { connectionToken, TokenVerifier, authSkewMsMax, type TokenVerdict } from './auth.js';
