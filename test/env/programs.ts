/** Programs the Env conformance suite spawns through `hosts`, registered in the shared registry so both
 * the simulator and a real child process (which imports this module) can run them. */
import { registerProgram } from '../../src/lib/programs.js';

export const conformanceEchoProgram = 'conformance-echo';

registerProgram(conformanceEchoProgram, (env) => {
  env.net.listen('echo', (from, payload) => env.net.send(from, 'echo-reply', payload));
  return {};
});
