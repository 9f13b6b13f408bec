import { createHash } from 'node:crypto';
import type { RedisReader } from './redis-reader.js';

/** SHA1 of each script body sent by hash (a handful of constant scripts), computed once. */
const shas = new Map<string, string>();

export function scriptSha(script: string): string {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
}

/** Redis did not hold the script (a restart, a failover, SCRIPT FLUSH) and ran nothing. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * EVAL_RO by the script's hash on `bySha` (its body is then not written and hashed by Redis on
 * every call), and with its body through `byBody` when Redis answers NOSCRIPT, which caches it
 * again. Any other refusal (Redis < 7, a Cluster slot) reaches the caller as EVAL_RO's would.
 */
export async function evalReadOnlyByHash(
  bySha: Pick<RedisReader, 'evalsha_ro'>,
  byBody: Pick<RedisReader, 'eval_ro'>,
  script: string,
  numKeys: number,
  ...keysAndArgs: (string | number)[]
): Promise<unknown> {
  if (bySha.evalsha_ro !== undefined) {
    try {
      return await bySha.evalsha_ro(scriptSha(script), numKeys, ...keysAndArgs);
    } catch (error) {
      if (!isNoScript(error)) throw error;
    }
  }
  return byBody.eval_ro(script, numKeys, ...keysAndArgs);
}
