/**
 * How `npm run call` shows an answer (pure, so it is tested without a cluster): the value as JSON when JSON
 * carries it unchanged, else Node's inspection of it; a group service's `(errors by SID, values)` as both;
 * an error as its code and message. Exit codes: 0 answered, 1 an error (or a group answer with errors).
 */
import { inspect } from 'node:util';

export interface RenderedAnswer {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: 0 | 1;
}

/** JSON when it carries the value unchanged, else Node's inspection (functions, Maps, BigInt, cycles…). */
export function formatValue(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined && inspect(JSON.parse(json), { depth: Infinity }) === inspect(value, { depth: Infinity })) return json;
  } catch {
    // not JSON (a cycle, a BigInt): inspected below
  }
  return inspect(value, { depth: 8 });
}

/** `where` names the node called (`n1 at 127.0.0.1:9001`), for the hint after a timeout. */
export function renderAnswer(err: unknown, value: unknown, where: string): RenderedAnswer {
  if (err === null || err === undefined) return { stdout: `${formatValue(value)}\n`, stderr: '', exitCode: 0 };
  if (!(err instanceof Error)) {
    const failed = typeof err === 'object' && Object.keys(err).length > 0;
    return { stdout: `${formatValue({ errors: err, values: value })}\n`, stderr: '', exitCode: failed ? 1 : 0 };
  }
  const code = (err as { code?: unknown }).code;
  let stderr = `${typeof code === 'string' ? code : 'error'}: ${err.message}\n`;
  // A refused connection (wrong secret, nothing listening) reaches the caller only as silence.
  if (code === 'E_NODE_TIMEOUT') stderr += `no answer from ${where}: is it up, and is DISTRIBUTION_SECRET the cluster's?\n`;
  return { stdout: '', stderr, exitCode: 1 };
}
