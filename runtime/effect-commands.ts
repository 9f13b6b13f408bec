import type { Effect } from './effects.js';

/**
 * Appends an effect's Redis commands to `out`, each as its argument count followed by its
 * arguments (the layout the batched-commands script reads), and returns how many it appended.
 * Writing into one flat array spares an array per command on the hot path.
 */
export function appendEffectCommands(effect: Effect, streamMaxLen: number, out: string[]): number {
  switch (effect.op) {
    case 'emit': {
      const maxLen = effect.maxLen ?? streamMaxLen;
      const at = out.push('') - 1;
      if (maxLen > 0) out.push('XADD', effect.stream, 'MAXLEN', '~', String(maxLen), '*');
      else out.push('XADD', effect.stream, '*');
      const fields = effect.fields;
      for (const key in fields) out.push(key, fields[key]!);
      out[at] = String(out.length - at - 1);
      return 1;
    }
    case 'putHash': {
      let count = 0;
      if (effect.replace) count += appendCommand(out, 'DEL', effect.key);
      const at = out.push('') - 1;
      out.push('HSET', effect.key);
      const fields = effect.fields;
      for (const key in fields) out.push(key, fields[key]!);
      if (out.length - at - 1 > 2) {
        out[at] = String(out.length - at - 1);
        count += 1;
      } else {
        out.length = at; // HSET without fields is an error: nothing to put
      }
      if (effect.ttlSec !== undefined) count += appendCommand(out, 'EXPIRE', effect.key, effect.ttlSec);
      return count;
    }
    case 'setKey':
      return effect.ttlSec === undefined
        ? appendCommand(out, 'SET', effect.key, effect.value)
        : appendCommand(out, 'SET', effect.key, effect.value, 'EX', effect.ttlSec);
    case 'deleteKey':
      return appendCommand(out, 'DEL', effect.key);
    case 'addToSet':
      return appendCommand(out, 'SADD', effect.key, effect.member);
    case 'removeFromSet':
      return appendCommand(out, 'SREM', effect.key, effect.member);
    case 'addToSortedSet':
      return (
        appendCommand(out, 'ZADD', effect.key, effect.score, effect.member) +
        (effect.ttlSec === undefined ? 0 : appendCommand(out, 'EXPIRE', effect.key, effect.ttlSec))
      );
    case 'trimSortedSet':
      return appendCommand(out, 'ZREMRANGEBYSCORE', effect.key, '-inf', effect.maxScore);
    case 'pushToList':
      return (
        appendCommand(out, 'LPUSH', effect.key, effect.value) +
        appendCommand(out, 'LTRIM', effect.key, 0, effect.maxLength - 1) +
        (effect.ttlSec === undefined ? 0 : appendCommand(out, 'EXPIRE', effect.key, effect.ttlSec))
      );
  }
}

function appendCommand(out: string[], ...args: (string | number)[]): 1 {
  out.push(String(args.length));
  for (const arg of args) out.push(String(arg));
  return 1;
}

/** Translates effects to Redis commands, one array each (the cluster committer pipelines them by slot). */
export function effectCommands(effect: Effect, streamMaxLen: number): (string | number)[][] {
  const flat: string[] = [];
  appendEffectCommands(effect, streamMaxLen, flat);
  const commands: string[][] = [];
  for (let i = 0; i < flat.length; i += Number(flat[i]) + 1) commands.push(flat.slice(i + 1, i + 1 + Number(flat[i])));
  return commands;
}
