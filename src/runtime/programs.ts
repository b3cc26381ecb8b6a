/**
 * Programs a node process can run, by name, from the shared registry in src/lib/programs.ts (the same
 * one the simulator's hosts use, so a program registered once runs in both worlds). Importing this module
 * registers the runtime's built-ins: `ping` (a smoke test) and every protocol with a program (`broadcast`,
 * `node`, `membership`, `kv`).
 * Extra modules (e.g. test programs) register theirs when a child imports them (`RuntimeConfig.programModules`).
 */
import { getProgram, programNames, registerProgram } from '../lib/programs.js';
import '../protocols/broadcast/index.js';
import '../protocols/groups/index.js';
import '../protocols/kv/index.js';
import '../protocols/membership/index.js';
import { pingProgram } from './ping.js';

export { getProgram as lookupProgram, programNames, registerProgram };

registerProgram('ping', pingProgram);
