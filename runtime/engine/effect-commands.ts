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

/** Where effects' commands are written, one at a time. */
interface CommandSink {
  /** Starts a command; end() fills in its argument count. */
  begin(): void;
  add(text: string): void;
  /** Ends the command begun last; with `keep` false, takes it back whole. */
  end(keep?: boolean): void;
}

/** Writes an extra emit's commands (the layout of writeEffectCommands); returns how many. */
function writeExtraEmitCommands(extra: ExtraEmit, out: CommandSink): number {
  if (extra.index === undefined) return writeEffectCommands({ op: 'emit', ...extra }, 0, out);
  out.begin();
  out.add(DEAD_LETTER_APPEND);
  out.add(extra.stream);
  out.add(extra.index);
  out.add(String(extra.maxLen));
  writeFields(extra.fields, out);
  out.end();
  return 1;
}

/** Writes each field as its name and value; returns how many. */
function writeFields(fields: Fields, out: CommandSink): number {
  let count = 0;
  for (const key in fields) {
    out.add(key);
    out.add(fields[key]!);
    count++;
  }
  return count;
}

/** Writes an effect's Redis commands to `out` and returns how many. */
function writeEffectCommands(effect: Effect, streamMaxLen: number, out: CommandSink): number {
  switch (effect.op) {
    case 'emit': {
      const maxLen = effect.maxLen ?? streamMaxLen;
      out.begin();
      out.add('XADD');
      out.add(effect.stream);
      if (maxLen > 0) {
        out.add('MAXLEN');
        out.add('~');
        out.add(String(maxLen));
      }
      out.add('*');
      writeFields(effect.fields, out);
      out.end();
      return 1;
    }
    case 'putHash': {
      let count = 0;
      if (effect.replace) count += writeCommand(out, 'DEL', effect.key);
      out.begin();
      out.add('HSET');
      out.add(effect.key);
      const fields = writeFields(effect.fields, out);
      // HSET without fields is an error: nothing to put.
      out.end(fields > 0);
      if (fields > 0) count += 1;
      if (effect.ttlSec !== undefined) count += writeCommand(out, 'EXPIRE', effect.key, effect.ttlSec);
      return count;
    }
    case 'setKey':
      return effect.ttlSec === undefined
        ? writeCommand(out, 'SET', effect.key, effect.value)
        : writeCommand(out, 'SET', effect.key, effect.value, 'EX', effect.ttlSec);
    case 'deleteKey':
      return writeCommand(out, 'DEL', effect.key);
    case 'addToSet':
      return writeCommand(out, 'SADD', effect.key, effect.member);
    case 'removeFromSet':
      return writeCommand(out, 'SREM', effect.key, effect.member);
    case 'addToSortedSet':
      return (
        writeCommand(out, 'ZADD', effect.key, effect.score, effect.member) +
        (effect.ttlSec === undefined ? 0 : writeCommand(out, 'EXPIRE', effect.key, effect.ttlSec))
      );
    case 'trimSortedSet':
      return writeCommand(out, 'ZREMRANGEBYSCORE', effect.key, '-inf', effect.maxScore);
    case 'pushToList':
      return (
        writeCommand(out, 'LPUSH', effect.key, effect.value) +
        writeCommand(out, 'LTRIM', effect.key, 0, effect.maxLength - 1) +
        (effect.ttlSec === undefined ? 0 : writeCommand(out, 'EXPIRE', effect.key, effect.ttlSec))
      );
  }
}

function writeCommand(out: CommandSink, ...args: (string | number)[]): 1 {
  out.begin();
  for (const arg of args) out.add(String(arg));
  out.end();
  return 1;
}

/** A CommandSink that keeps each command as an array of its arguments. */
class CommandArrays implements CommandSink {
  readonly commands: string[][] = [];
  private open: string[] = [];

  begin(): void {
    this.open = [];
  }

  add(text: string): void {
    this.open.push(text);
  }

  end(keep = true): void {
    if (keep) this.commands.push(this.open);
  }
}

/** Translates effects to Redis commands, one array each. */
export function effectCommands(effect: Effect, streamMaxLen: number): string[][] {
  const sink = new CommandArrays();
  writeEffectCommands(effect, streamMaxLen, sink);
  return sink.commands;
}

/** An extra emit's commands, one array each (see effectCommands). */
export function extraEmitCommands(extra: ExtraEmit): string[][] {
  const sink = new CommandArrays();
  writeExtraEmitCommands(extra, sink);
  return sink.commands;
}
