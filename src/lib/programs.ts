/**
 * The program registry: node programs by name, so a host (simulated or a real child process) can be
 * told "run program `broadcast` as node n3" and build it with the factory. Protocol folders register
 * their programs when their index.ts is imported; both the simulator and the runtime look them up here.
 */
import type { NodeFactory } from '../env/index.js';
import { assert } from './assert.js';

const programs = new Map<string, NodeFactory>();

/** Program names are short identifiers, so they survive command lines and trace files unchanged. */
const programNamePattern = /^[a-z][a-z0-9-]{0,63}$/;

/** Registers `factory` under `name`. Registering the same factory twice is a no-op; a different one
 * under a taken name is a programmer error (two protocols fighting over a name). */
export function registerProgram(name: string, factory: NodeFactory): void {
  assert(programNamePattern.test(name), `program name must match ${programNamePattern}: ${name}`);
  const existing = programs.get(name);
  assert(existing === undefined || existing === factory, `program already registered: ${name}`);
  programs.set(name, factory);
}

export function getProgram(name: string): NodeFactory | undefined {
  return programs.get(name);
}

/** Registered names, sorted so listings are stable. */
export function programNames(): string[] {
  return [...programs.keys()].sort();
}
