import { Command, ReplyError, type Pipeline } from 'ioredis';
import type { Effect, EffectRecorder, Fields, Guard } from './effects.js';
import type { RedisClient } from './redis.js';

/** One message's share of a commit: its effects (if any) and whether its entry is acknowledged. */
export interface CommitItem {
  /** The stream entry to XACK; absent for BullMQ jobs, which BullMQ completes itself. */
  readonly entryId?: string;
  readonly recorder?: EffectRecorder;
  /** Extra entries to append atomically, e.g. the message's dead-letter record. */
  readonly extraEmits?: readonly { stream: string; fields: Fields; maxLen: number }[];
}

export interface EffectFailure {
  readonly item: number;
  readonly effect: Effect | undefined;
  readonly error: Error;
}

export interface CommitReport {
  /** Items whose effects and ack were applied. */
  readonly committed: number[];
  /** Items whose guard no longer held; their handler must run again on fresh data. */
  readonly conflicted: number[];
  /** Commands inside the transaction that Redis rejected (the rest of the transaction applied). */
  readonly effectFailures: EffectFailure[];
}

export interface Committer {
  commit(source: { stream: string; group: string } | undefined, items: readonly CommitItem[]): Promise<CommitReport>;
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

/**
 * A guarded item whose guard key an earlier item of the same batch writes cannot be checked yet:
 * it is deferred (reported as conflicted) and re-run after the earlier one commits.
 */
export function withoutIntraBatchConflicts(items: readonly CommitItem[], conflicted: number[]): number[] {
  const written = new Set<string>();
  const accepted: number[] = [];
  items.forEach((item, index) => {
    const guards = item.recorder?.guards ?? [];
    if (guards.some((g) => written.has(g.key))) {
      conflicted.push(index);
      return;
    }
    accepted.push(index);
    for (const key of item.recorder?.writtenKeys() ?? []) written.add(key);
  });
  return accepted;
}

/** latestWins writes that a later message of the same commit overwrites anyway. */
function supersededWrites(items: readonly CommitItem[], accepted: readonly number[]): Set<Effect> {
  const last = new Map<string, Effect>();
  const superseded = new Set<Effect>();
  for (const index of accepted) {
    for (const effect of items[index]!.recorder?.effects ?? []) {
      if (effect.op !== 'putHash' || !effect.latestWins) continue;
      const previous = last.get(effect.key);
      if (previous) superseded.add(previous);
      last.set(effect.key, effect);
    }
  }
  return superseded;
}


/**
 * Commits a batch on one Redis node: every accepted item's effects, the dead-letter entries and
 * one XACK for all their entries in a single MULTI/EXEC, so a crash can never separate an
 * output from its ack. Items with guards are checked under WATCH first; the connection must be
 * dedicated to this committer because WATCH and MULTI are per connection.
 */
export class TransactionCommitter implements Committer {
  constructor(
    private readonly connection: RedisClient,
    private readonly streamMaxLen: number,
  ) {}

  async commit(source: { stream: string; group: string } | undefined, items: readonly CommitItem[]): Promise<CommitReport> {
    const conflicted: number[] = [];
    let accepted = withoutIntraBatchConflicts(items, conflicted);

    for (;;) {
      const guarded = accepted.filter((i) => (items[i]!.recorder?.guards.length ?? 0) > 0);
      if (guarded.length > 0) {
        const failing = await this.watchAndCheck(guarded.map((i) => [i, items[i]!.recorder!.guards] as const));
        if (failing.size > 0) {
          conflicted.push(...failing);
          accepted = accepted.filter((i) => !failing.has(i));
        }
      }
      const result = await this.exec(source, items, accepted);
      if (result !== null) {
        return { committed: accepted, conflicted: conflicted.sort((a, b) => a - b), effectFailures: result };
      }
      // WATCH fired: a guarded key changed between check and EXEC. Nothing applied; the guarded
      // items re-run their handlers, the rest are committed again.
      // Only those still accepted: the ones whose guard already failed the check are counted.
      const stillGuarded = guarded.filter((i) => accepted.includes(i));
      conflicted.push(...stillGuarded);
      accepted = accepted.filter((i) => !stillGuarded.includes(i));
    }
  }

  private async watchAndCheck(guardedItems: readonly (readonly [number, readonly Guard[]])[]): Promise<Set<number>> {
    const keys = [...new Set(guardedItems.flatMap(([, guards]) => guards.map((g) => g.key)))];
    await this.connection.watch(...keys);
    // EXISTS, not GET: a guard on a hash or set key must see it exists (GET would answer nil).
    const check = this.connection.pipeline();
    for (const key of keys) check.exists(key).get(key);
    const replies = (await check.exec()) ?? [];
    const exists = new Map<string, boolean>();
    const value = new Map<string, string | null>();
    keys.forEach((key, i) => {
      exists.set(key, replies[2 * i]?.[1] === 1);
      // WRONGTYPE on GET of a non-string: it exists, and holds no string value to compare.
      const [error, reply] = replies[2 * i + 1] ?? [null, null];
      value.set(key, error ? null : (reply as string | null));
    });
    const failing = new Set<number>();
    for (const [index, guards] of guardedItems) {
      const holds = guards.every((g) => (g.kind === 'absent' ? !exists.get(g.key) : value.get(g.key) === g.value));
      if (!holds) failing.add(index);
    }
    return failing;
  }

  /** Returns per-command failures, or null when WATCH aborted the transaction. */
  private async exec(
    source: { stream: string; group: string } | undefined,
    items: readonly CommitItem[],
    accepted: readonly number[],
  ): Promise<EffectFailure[] | null> {
    const commands = new CommandList();
    const ackIds: string[] = [];
    const superseded = supersededWrites(items, accepted);
    for (const index of accepted) {
      const item = items[index]!;
      for (const effect of item.recorder?.effects ?? []) {
        if (superseded.has(effect)) continue;
        commands.owned(appendEffectCommands(effect, this.streamMaxLen, commands.flat), index, effect);
      }
      for (const extra of item.extraEmits ?? []) {
        commands.owned(appendEffectCommands({ op: 'emit', ...extra }, this.streamMaxLen, commands.flat), index, undefined);
      }
      if (item.entryId !== undefined) ackIds.push(item.entryId);
    }
    if (source && ackIds.length > 0) {
      commands.flat.push(String(ackIds.length + 3), 'XACK', source.stream, source.group);
      for (const id of ackIds) commands.flat.push(id);
      commands.owned(1, -1, undefined);
    }
    if (commands.count === 0) {
      await this.connection.unwatch();
      return [];
    }

    // multi() is typed as a chainable commander; it is a Pipeline, whose sendCommand takes a built command.
    const transaction = this.connection.multi() as unknown as Pipeline;
    const segments = commands.segments();
    for (const segment of segments) {
      if (segment.script) transaction.sendCommand(new FlatCommand('eval', [RUN_COMMANDS, '0', ...segment.args]));
      else transaction.sendCommand(new FlatCommand(segment.args[0]!, segment.args.slice(1)));
    }
    const replies = await transaction.exec();
    if (replies === null) return null;

    const failures: EffectFailure[] = [];
    segments.forEach((segment, s) => {
      const [error, reply] = replies[s] ?? [new Error('no reply from the transaction'), null];
      // A script that fails as a whole (not one of its commands) may have applied part of the
      // batch: throwing sends the consumer to check which entries are still pending.
      if (error && segment.script) throw error;
      if (error) failures.push(commands.failure(segment.first, error));
      if (!segment.script) return;
      const failed = reply as (number | string)[];
      for (let i = 0; i < failed.length; i += 2) {
        failures.push(commands.failure(segment.first + Number(failed[i]) - 1, new ReplyError(String(failed[i + 1]))));
      }
    });
    return failures;
  }
}

/**
 * Runs a batch's commands, laid out as ARGV = count, arguments, count, arguments, ... in one call:
 * the transaction then carries one command instead of thousands, which spares the client a
 * command object, a promise and a QUEUED reply per write (most of its cost per message). Each
 * command goes through redis.pcall, so, as inside MULTI, a command Redis rejects fails alone and
 * the others apply. Answers the failed commands' numbers (1-based) and errors, interleaved.
 * replicate_commands: Redis 5 and 6 refuse writes after XADD's random id otherwise (7 ignores it).
 */
const RUN_COMMANDS = `
if redis.replicate_commands then redis.replicate_commands() end
local failed = {}
local i, n, number = 1, #ARGV, 0
while i <= n do
  local count = tonumber(ARGV[i])
  number = number + 1
  local reply = redis.pcall(unpack(ARGV, i + 1, i + count))
  if type(reply) == 'table' and reply.err then
    failed[#failed + 1] = number
    failed[#failed + 1] = reply.err
  end
  i = i + count + 1
end
return failed
`;

/**
 * A command built from arguments that are already one flat array of strings. ioredis's own
 * constructor copies its arguments with Array.prototype.flat, which costs about 125 ns per
 * argument: most of the client's cost for a batch of outputs. The arguments are set after
 * construction, so that copy runs on an empty array.
 */
class FlatCommand extends Command {
  constructor(name: string, args: string[]) {
    super(name, []);
    this.args = args;
  }
}

/** Lua's unpack() spreads at most ~8,000 values; a command with more goes into the transaction as itself. */
const SCRIPT_MAX_COMMAND_ARGS = 7_000;

interface Segment {
  /** true: args are count-prefixed commands for RUN_COMMANDS; false: one command as it is. */
  readonly script: boolean;
  readonly args: string[];
  /** Index of the segment's first command in the list. */
  readonly first: number;
}

/** A batch's commands in the flat layout RUN_COMMANDS reads, with which item and effect each belongs to. */
class CommandList {
  readonly flat: string[] = [];
  private readonly items: number[] = [];
  private readonly effects: (Effect | undefined)[] = [];

  get count(): number {
    return this.items.length;
  }

  /** Records that the last `count` commands appended to `flat` belong to this item and effect. */
  owned(count: number, item: number, effect: Effect | undefined): void {
    for (let i = 0; i < count; i++) {
      this.items.push(item);
      this.effects.push(effect);
    }
  }

  failure(command: number, error: Error): EffectFailure {
    return { item: this.items[command] ?? -1, effect: this.effects[command], error };
  }

  /** One script segment for the usual batch; oversized commands split it, in order. */
  segments(): Segment[] {
    const flat = this.flat;
    const segments: Segment[] = [];
    let runStart = 0;
    let runFirst = 0;
    let command = 0;
    for (let i = 0; i < flat.length; command++) {
      const count = Number(flat[i]);
      if (count > SCRIPT_MAX_COMMAND_ARGS) {
        if (i > runStart) segments.push({ script: true, args: flat.slice(runStart, i), first: runFirst });
        segments.push({ script: false, args: flat.slice(i + 1, i + 1 + count), first: command });
        runStart = i + 1 + count;
        runFirst = command + 1;
      }
      i += count + 1;
    }
    if (runStart === 0) segments.push({ script: true, args: flat, first: 0 });
    else if (runStart < flat.length) segments.push({ script: true, args: flat.slice(runStart), first: runFirst });
    return segments;
  }
}
