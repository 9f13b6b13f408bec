import { DEAD_LETTER_APPEND } from './dead-letter.js';
import type { Effect, Fields } from './effects.js';

/**
 * An entry a commit appends besides a handler's effects (a dead letter). With `index` it is a
 * dead letter bounded per gate (DEAD_LETTER_APPEND: maxLen counts only the entries in that gate's
 * index, and what it trims is counted); without, an entry bounded by XADD's approximate MAXLEN.
 */
export interface ExtraEmit {
  readonly stream: string;
  readonly fields: Fields;
  readonly maxLen: number;
  readonly index?: string;
}

/** Appends an extra emit's commands to `out` (the layout of appendEffectCommands); returns how many. */
export function appendExtraEmitCommands(extra: ExtraEmit, out: string[]): number {
  if (extra.index === undefined) return appendEffectCommands({ op: 'emit', ...extra }, 0, out);
  const at = out.push('') - 1;
  out.push(DEAD_LETTER_APPEND, extra.stream, extra.index, String(extra.maxLen));
  const fields = extra.fields;
  for (const key in fields) out.push(key, fields[key]!);
  out[at] = String(out.length - at - 1);
  return 1;
}

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
  return split(flat);
}

/** An extra emit's commands, one array each (see effectCommands). */
export function extraEmitCommands(extra: ExtraEmit): string[][] {
  const flat: string[] = [];
  appendExtraEmitCommands(extra, flat);
  return split(flat);
}

function split(flat: string[]): string[][] {
  const commands: string[][] = [];
  for (let i = 0; i < flat.length; i += Number(flat[i]) + 1) commands.push(flat.slice(i + 1, i + 1 + Number(flat[i])));
  return commands;
}
