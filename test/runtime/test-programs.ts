/** Programs for child-process tests; a spawned node imports this module (RuntimeConfig.programModules). */
import { registerProgram } from '../../src/runtime/programs.js';

registerProgram('test-echo', (env, args) => {
  const greeting = (args as { greeting?: string } | undefined)?.greeting ?? '';
  env.net.listen('echo', (from, payload) => env.net.send(from, 'echo-reply', Buffer.concat([Buffer.from(`${greeting} `), payload])));
  return {};
});
