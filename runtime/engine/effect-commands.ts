import type { ChainableCommander } from 'ioredis';
import { DEAD_LETTER_APPEND, DEAD_LETTER_APPEND_SCRIPT } from './dead-letter.js';
import type { Effect, Fields } from './effects.js';

/** A dead letter: with `index`, bounded per gate (DEAD_LETTER_APPEND); without, by XADD's approximate MAXLEN. */
export interface ExtraEmit {
  readonly stream: string;
  readonly fields: Fields;
  readonly maxLen: number;
  readonly index?: string;
}

function withFields(command: string[], fields: Fields): string[] {
  for (const key in fields) command.push(key, fields[key]!);
  return command;
}

function expiring(commands: string[][], key: string, ttlSec: number | undefined): string[][] {
  if (ttlSec !== undefined) commands.push(['EXPIRE', key, String(ttlSec)]);
  return commands;
}

export function effectCommands(effect: Effect, streamMaxLen: number): string[][] {
  switch (effect.op) {
    case 'emit': {
      const maxLen = effect.maxLen ?? streamMaxLen;
      const head = maxLen > 0 ? ['XADD', effect.stream, 'MAXLEN', '~', String(maxLen), '*'] : ['XADD', effect.stream, '*'];
      return [withFields(head, effect.fields)];
    }
    case 'putHash': {
      const commands = effect.replace === true ? [['DEL', effect.key]] : [];
      const hset = withFields(['HSET', effect.key], effect.fields);
      // HSET without fields is an error: nothing to put.
      if (hset.length > 2) commands.push(hset);
      return expiring(commands, effect.key, effect.ttlSec);
    }
    case 'setKey':
      return [['SET', effect.key, effect.value, ...(effect.ttlSec === undefined ? [] : ['EX', String(effect.ttlSec)])]];
    case 'deleteKey':
      return [['DEL', effect.key]];
    case 'addToSet':
      return [['SADD', effect.key, effect.member]];
    case 'removeFromSet':
    case 'removeFromSortedSet':
      return [[effect.op === 'removeFromSet' ? 'SREM' : 'ZREM', effect.key, effect.member]];
    case 'addToSortedSet':
      return expiring([['ZADD', effect.key, String(effect.score), effect.member]], effect.key, effect.ttlSec);
    case 'trimSortedSet':
      return [['ZREMRANGEBYSCORE', effect.key, '-inf', String(effect.maxScore)]];
    case 'pushToList':
      return expiring(
        [
          ['LPUSH', effect.key, effect.value],
          ['LTRIM', effect.key, '0', String(effect.maxLength - 1)],
        ],
        effect.key,
        effect.ttlSec,
      );
  }
}

export function extraEmitCommands(extra: ExtraEmit): string[][] {
  if (extra.index === undefined) return effectCommands({ op: 'emit', ...extra }, 0);
  return [withFields([DEAD_LETTER_APPEND, extra.stream, extra.index, String(extra.maxLen)], extra.fields)];
}

/** Queues commands as themselves (outside the batch script): a dead letter as an EVAL of its script. */
export function queueCommands(pipeline: ChainableCommander, commands: readonly { readonly args: readonly string[] }[]): void {
  for (const [name, ...args] of commands.map((command) => command.args)) {
    if (name === DEAD_LETTER_APPEND) pipeline.eval(DEAD_LETTER_APPEND_SCRIPT, 2, ...args);
    else pipeline.call(name!, ...args);
  }
}
