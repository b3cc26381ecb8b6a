/**
 * Programs a node process can run, by name. `hosts.spawn({ program })` and the cluster CLI name a program;
 * the child process looks it up here. Built-ins are registered on import; extra modules (e.g. test
 * programs) register theirs when the child imports them (`RuntimeConfig.programModules`).
 */
import type { NodeFactory } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { pingProgram } from './ping.js';

const programs = new Map<string, NodeFactory>();

export function registerProgram(name: string, factory: NodeFactory): void {
  assert(typeof name === 'string' && /^[a-z0-9][a-z0-9-]{0,63}$/.test(name), `program name ${JSON.stringify(name)} must be kebab-case`);
  assert(typeof factory === 'function', 'registerProgram: factory must be a function');
  programs.set(name, factory);
}

export function lookupProgram(name: string): NodeFactory | undefined {
  return programs.get(name);
}

export function programNames(): string[] {
  return [...programs.keys()].sort();
}

registerProgram('ping', pingProgram);
