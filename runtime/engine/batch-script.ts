import { Command, ReplyError, type Pipeline, type Redis } from 'ioredis';
import type { Effect, OrderCondition } from './effects.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { asEval, DEAD_LETTER_APPEND, DEAD_LETTER_APPEND_FUNCTION } from './dead-letter.js';
import { writeEffectCommands, writeExtraEmitCommands, type ExtraEmit } from './effect-commands.js';
import { RespArgs, type SizeHint } from './resp-args.js';
import { FlatCommand, sendScript } from './flat-command.js';
import type { RedisClient } from './connection.js';

/** The stream entries a commit acknowledges, and the consumer that must still hold them. */
export interface CommitSource {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** Hash (field: group) where the commit records where the group would restart if lost (see groupCursorKey). */
  readonly cursorKey?: string;
}

/** A command Redis rejected inside a commit (the rest of the commit applied). */
export interface EffectFailure<Item = unknown> {
  /** The item whose command it was; undefined for the batch's own (its acknowledgement). */
  readonly item: Item | undefined;
  readonly effect: Effect | undefined;
  readonly error: Error;
}

/**
 * Applies a batch in one call. ARGV: stream, group, consumer, the lowest and highest entry id of
 * the batch ('' when it has none), the cursor key ('' for none), then per item: its entry id ('' for none), its number of
 * commands, its newest-wins condition as a key and a stream id ('' and '' for none), its number of
 * stream-order fields and each as a field name and value, its number of guard checks and each
 * as a kind, a key and a value (see GuardCheck), and each command as its argument count and
 * arguments.
 *
 * An item whose entry is no longer pending for this consumer (another consumer reclaimed it, or
 * it was acknowledged) is skipped whole: the check and the writes are one atomic step, so a
 * consumer that stalled past CLAIM_IDLE_MS can never write outputs a reclaimer also writes.
 * Commands go through redis.pcall, so, as inside MULTI, a command Redis rejects fails alone and
 * the others apply. An item whose condition key holds a later id than its own is acknowledged
 * without its commands. Answers {failed command numbers and errors interleaved, lost item
 * numbers, superseded item numbers}, all 1-based. replicate_commands: Redis 5 and 6 refuse writes after XADD's random id otherwise.
 */
/** Lua: older(a, b) orders stream ids as (milliseconds, sequence); Lua numbers hold both exactly up to 2^53. */
export const OLDER_STREAM_ID = `
local function id_parts(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return tonumber(id) or 0, 0 end
  return tonumber(string.sub(id, 1, dash - 1)) or 0, tonumber(string.sub(id, dash + 1)) or 0
end
local function older(a, b)
  local am, as = id_parts(a)
  local bm, bs = id_parts(b)
  if am ~= bm then return am < bm end
  return as < bs
end
`;

const RUN_BATCH = `
if redis.replicate_commands then redis.replicate_commands() end
local stream, group, consumer, first, last, cursorKey = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
-- This consumer's pending entries in the batch's id range, a page at a time: one XPENDING per
-- page costs far less than one per entry.
local mine = {}
if first ~= '' then
  local from = first
  while true do
    local rows = redis.call('XPENDING', stream, group, from, last, 1000, consumer)
    for r = 1, #rows do mine[rows[r][1]] = true end
    if #rows < 1000 then break end
    from = '(' .. rows[#rows][1]
  end
end
${OLDER_STREAM_ID}
-- The type each written key must hold for its command to succeed; a key another writer gave
-- another type fails its item before anything of the item is written.
local needs = {XADD = 'stream', ${DEAD_LETTER_APPEND} = 'stream', HSET = 'hash', SADD = 'set', SREM = 'set', ZADD = 'zset', ZREMRANGEBYSCORE = 'zset', LPUSH = 'list', LTRIM = 'list'}
local types = {}
local function type_of(key)
  local t = types[key]
  if t == nil then
    t = redis.call('TYPE', key)
    if type(t) == 'table' then t = t.ok end
    types[key] = t
  end
  return t
end
-- First command of the item (from argument i, c commands) whose key holds the wrong type.
local function wrong_type(i, c)
  local replaced = {}
  for k = 1, c do
    local count = tonumber(ARGV[i])
    local name, key = string.upper(ARGV[i + 1]), ARGV[i + 2]
    if name == 'DEL' or name == 'SET' then
      replaced[key] = true
    elseif not replaced[key] then
      local want = needs[name]
      if want then
        local t = type_of(key)
        if t ~= 'none' and t ~= want then return 'WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a ' .. want end
      end
    end
    i = i + count + 1
  end
  return nil
end
-- Entries pending in the group before this batch's last entry and not part of this batch (another
-- replica holds them, or they wait for a retry), with their fields: read only when an item asks
-- for stream order by a field, once per batch (so is the walk over the batch's items that finds
-- which entries are in it: most gates never ask).
local earlier = nil
local function load_earlier()
  earlier = {}
  if last == '' then return end
  local inBatch = {}
  local j = 7
  while j <= #ARGV do
    if ARGV[j] ~= '' then inBatch[ARGV[j]] = true end
    local c, o = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 4])
    local g = tonumber(ARGV[j + 5 + 2 * o])
    j = j + 6 + 2 * o + 3 * g
    for k = 1, c do j = j + tonumber(ARGV[j]) + 1 end
  end
  local rows = redis.call('XPENDING', stream, group, '-', last, 1000)
  for r = 1, #rows do
    local id = rows[r][1]
    if not inBatch[id] then
      local found = redis.call('XRANGE', stream, id, id)
      if found[1] then
        local values, kv = {}, found[1][2]
        for f = 1, #kv, 2 do values[kv[f]] = kv[f + 1] end
        earlier[#earlier + 1] = {id, values}
      end
    end
  end
end
-- True when an entry before \`entry\`, still pending and not in this batch, has the same value of
-- one of the item's order fields: the item must wait for it.
local function must_wait(entry, at, count)
  if count == 0 or entry == '' then return false end
  if earlier == nil then load_earlier() end
  for e = 1, #earlier do
    if older(earlier[e][1], entry) then
      for o = 0, count - 1 do
        if earlier[e][2][ARGV[at + 2 * o]] == ARGV[at + 2 * o + 1] then return true end
      end
    end
  end
  return false
end
local failed, lost, superseded, withheld, waiting, unguarded, acks = {}, {}, {}, {}, {}, {}, {}
-- Keys of items refused for a guard (and of items refused after them for touching such a key):
-- a later item touching one waits too, so no item overtakes an earlier one on a key they share.
local blocked, anyBlocked = {}, false
-- Whether the item's commands (from argument i, c commands) write a blocked key. Appends to a
-- stream (XADD, dead letters) never change what a later item reads, so they do not count.
local function writes_blocked(i, c)
  for k = 1, c do
    local count, name = tonumber(ARGV[i]), ARGV[i + 1]
    if name ~= 'XADD' and name ~= '${DEAD_LETTER_APPEND}' and blocked[ARGV[i + 2]] then return true end
    i = i + count + 1
  end
  return false
end
local function block_writes(i, c)
  for k = 1, c do
    local count, name = tonumber(ARGV[i]), ARGV[i + 1]
    if name ~= 'XADD' and name ~= '${DEAD_LETTER_APPEND}' then blocked[ARGV[i + 2]] = true end
    i = i + count + 1
  end
end
${DEAD_LETTER_APPEND_FUNCTION}
-- Dead letters removed from the stream by the per-gate bound of the batch's dead letters.
local trimmed = 0
local i, n, command, item = 7, #ARGV, 0, 0
while i <= n do
  local entry, commands, condKey, condId, orders = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  item = item + 1
  local orderAt = i + 5
  local checks = tonumber(ARGV[i + 5 + 2 * orders])
  local checkAt = i + 6 + 2 * orders
  i = checkAt + 3 * checks
  -- Guards on keys no earlier item of the batch writes ('a' absent, 'e' equals), checked before
  -- anything else, as a check before the transaction would: an item failing one, or touching a
  -- key of an item refused before it ('t': a key it touches that its commands do not show), is
  -- refused whole, whoever owns its entry.
  local refused = anyBlocked and ((condKey ~= '' and blocked[condKey]) or writes_blocked(i, commands))
  for g = 0, checks - 1 do
    local kind, key = ARGV[checkAt + 3 * g], ARGV[checkAt + 3 * g + 1]
    if refused then break end
    if blocked[key] then refused = true
    elseif kind == 'a' then refused = redis.call('EXISTS', key) == 1
    elseif kind == 'e' then refused = redis.pcall('GET', key) ~= ARGV[checkAt + 3 * g + 2] end
  end
  if refused then
    anyBlocked = true
    for g = 0, checks - 1 do blocked[ARGV[checkAt + 3 * g + 1]] = true end
    if condKey ~= '' then blocked[condKey] = true end
    block_writes(i, commands)
  end
  local owned = not refused and (entry == '' or mine[entry] == true)
  local applies = owned
  local broken = false
  local waits = owned and must_wait(entry, orderAt, orders)
  if waits then applies = false end
  -- Chained guards ('c'): a key an earlier item of this batch sets must hold the value this item
  -- expects when its turn comes (that item applied, and nothing else moved it).
  local holds = not refused
  if applies then
    for g = 0, checks - 1 do
      if ARGV[checkAt + 3 * g] == 'c' then
        local value = redis.pcall('GET', ARGV[checkAt + 3 * g + 1])
        if value ~= ARGV[checkAt + 3 * g + 2] then holds = false end
      end
    end
    if not holds then applies = false end
  end
  if applies then
    local problem = wrong_type(i, commands)
    if problem then
      applies = false
      broken = true
      failed[#failed + 1] = command + 1
      failed[#failed + 1] = problem
    end
  end
  if applies and condKey ~= '' then
    local stored = redis.pcall('GET', condKey)
    if type(stored) == 'string' and older(condId, stored) then
      applies = false
      superseded[#superseded + 1] = item
    else
      local reply = redis.pcall('SET', condKey, condId)
      if type(reply) == 'table' and reply.err then
        applies = false
        broken = true
        failed[#failed + 1] = command + 1
        failed[#failed + 1] = reply.err
      end
    end
  end
  for c = 1, commands do
    local count = tonumber(ARGV[i])
    command = command + 1
    if applies then
      local reply
      if ARGV[i + 1] == '${DEAD_LETTER_APPEND}' then
        reply = dead_letter_append(ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), i + 5, i + count)
        if type(reply) == 'number' then trimmed = trimmed + reply end
      else
        reply = redis.pcall(unpack(ARGV, i + 1, i + count))
      end
      if type(reply) == 'table' and reply.err then
        broken = true
        failed[#failed + 1] = command
        failed[#failed + 1] = reply.err
      end
    end
    i = i + count + 1
  end
  if refused then unguarded[#unguarded + 1] = item
  elseif not owned then lost[#lost + 1] = item
  elseif waits then waiting[#waiting + 1] = item
  elseif not holds then unguarded[#unguarded + 1] = item
  elseif broken then withheld[#withheld + 1] = item
  elseif entry ~= '' then acks[#acks + 1] = entry end
end
for a = 1, #acks, 1000 do
  redis.call('XACK', stream, group, unpack(acks, a, math.min(a + 999, #acks)))
end
-- Where the group would have to start again were it lost: just before the oldest entry still
-- pending, or after the newest acknowledged when none is.
if cursorKey ~= '' and #acks > 0 then
  local summary = redis.call('XPENDING', stream, group)
  local cursor
  if summary[1] > 0 then
    cursor = '(' .. summary[2]
  else
    cursor = acks[1]
    for a = 2, #acks do if older(cursor, acks[a]) then cursor = acks[a] end end
    local stored = redis.call('HGET', cursorKey, group)
    if type(stored) == 'string' and string.sub(stored, 1, 1) ~= '(' and older(cursor, stored) then cursor = stored end
  end
  redis.call('HSET', cursorKey, group, cursor)
end
return {failed, lost, superseded, withheld, waiting, unguarded, trimmed}
`;

/** Where the script (body or SHA1) stands in the EVAL arguments. */
const SCRIPT = 0;
/** Where RUN_BATCH finds the batch's id range in its EVAL arguments (script, numkeys, then ARGV). */
const FIRST_ID = 5;
const LAST_ID = 6;

/** Lua's unpack() spreads at most ~8,000 values, so a command with more cannot run in the script. */
const SCRIPT_MAX_COMMAND_ARGS = 7_000;

/**
 * Room kept before a batch's arguments for the command's head: EVAL's (the script's body and the
 * batch's own arguments, stream names and ids) or EVALSHA's, with a margin for long names.
 */
const HEAD_ROOM = Buffer.byteLength(RUN_BATCH, 'utf8') + 1024;

/**
 * A key RUN_BATCH checks or notes at an item's turn, as [kind, key, value]:
 * - 'a': the key must not exist, and 'e': it must hold exactly `value` (a string), both on keys no
 *   earlier item of the batch writes, checked before anything else of the item, as a check before
 *   the transaction would (WATCH is not needed: the script is atomic). An item failing one is
 *   refused (answered unguarded), and so is every later item touching a key it touches;
 * - 'c': a chained guard, `value` expected in a key an earlier item of the batch sets;
 * - 't': a key the item touches that its commands do not show (a guard checked elsewhere, a
 *   write a later item's overwrites), for the refusal of later items touching it.
 */
export type GuardCheck = readonly [kind: 'a' | 'e' | 'c' | 't', key: string, value: string];

export interface BatchResult<Item> {
  readonly failures: EffectFailure<Item>[];
  /** Items skipped because their entry was no longer this consumer's. */
  readonly lost: Item[];
  /** Items acknowledged without their effects: their condition key held a later id. */
  readonly superseded: Item[];
  /** Items left unacknowledged because a write of theirs failed (see failures): retried later. */
  readonly withheld: Item[];
  /** Items held back, nothing applied, until an earlier pending entry with the same order field value commits. */
  readonly waiting: Item[];
  /** Items whose guard did not hold at their turn, or that touch a key of such an item: nothing applied, to re-run (see GuardCheck). */
  readonly unguarded: Item[];
  /** Dead letters the batch's per-gate bound removed from the stream (see DEAD_LETTER_APPEND). */
  readonly trimmed: number;
}

/**
 * One batch's writes, laid out as RUN_BATCH reads them, sent as one command of a transaction.
 * The batch's own arguments (ARGV[1..6]) are kept as strings, since the first and last entry ids
 * change as items come; the items' arguments are written straight into the protocol's bytes
 * (resp-args.ts), sparing an array of strings and a command object per write.
 */
export class BatchScript<Item> {
  private readonly args: string[];
  private readonly body: RespArgs;
  private readonly entries: string[] = [];
  private readonly itemOfGroup: Item[] = [];
  private readonly commandItems: Item[] = [];
  private readonly commandEffects: (Effect | undefined)[] = [];
  private groupCountAt = -1;
  private groupCommands = 0;
  private tooLarge = false;
  private ordered = false;

  /** True when some item asks for stream order by a field (plain commands cannot check it). */
  get hasOrder(): boolean {
    return this.ordered;
  }

  constructor(
    private readonly source: CommitSource | undefined,
    private readonly streamMaxLen: number,
    /** The committer's batch size so far, for the first buffer's size. */
    sizeHint?: SizeHint,
    /** Sent as plain commands whatever its size (a rebuilt oversized batch: see queueOn). */
    plain = false,
  ) {
    this.tooLarge = plain;
    this.body = new RespArgs(sizeHint, HEAD_ROOM);
    this.args = [RUN_BATCH, '0', source?.stream ?? '', source?.group ?? '', source?.consumer ?? '', '', '', source?.cursorKey ?? ''];
  }

  get commandCount(): number {
    return this.commandItems.length;
  }

  /** True when a command is too large for the script: the batch then goes out as plain commands. */
  get oversized(): boolean {
    return this.tooLarge;
  }

  /**
   * Starts the commands of item `item`, acknowledging `entryId` with them when there is a source,
   * applied only if `condition` holds. A plain-command batch cannot check conditions: the
   * committer keeps conditional items out of it.
   */
  beginItem(
    item: Item,
    entryId: string | undefined,
    condition?: OrderCondition,
    order: readonly (readonly [string, string])[] = [],
    checks: readonly GuardCheck[] = [],
  ): void {
    this.endItem();
    const entry = this.source ? (entryId ?? '') : '';
    if (entry !== '') {
      this.entries.push(entry);
      if (this.args[FIRST_ID] === '' || compareStreamIds(entry, this.args[FIRST_ID]!) < 0) this.args[FIRST_ID] = entry;
      if (this.args[LAST_ID] === '' || compareStreamIds(entry, this.args[LAST_ID]!) > 0) this.args[LAST_ID] = entry;
    }
    this.itemOfGroup.push(item);
    const body = this.body;
    body.add(entry);
    this.groupCountAt = body.reserveCount();
    body.add(condition?.key ?? '');
    body.add(condition?.id ?? '');
    body.add(String(order.length));
    for (const [field, value] of order) {
      body.add(field);
      body.add(value);
    }
    if (order.length > 0) this.ordered = true;
    body.add(String(checks.length));
    for (const [kind, key, value] of checks) {
      body.add(kind);
      body.add(key);
      body.add(value);
    }
    this.groupCommands = 0;
  }

  /** Adds an effect's commands to the current item; `owner` is the effect failures are reported against. */
  add(effect: Effect, owner: Effect | undefined): void {
    const before = this.body.commandSizes.length;
    writeEffectCommands(effect, this.streamMaxLen, this.body);
    this.track(before, owner);
  }

  /** Records the commands written since the `from`th as the current item's. */
  private track(from: number, owner: Effect | undefined): void {
    const item = this.itemOfGroup[this.itemOfGroup.length - 1]!;
    const sizes = this.body.commandSizes;
    for (let c = from; c < sizes.length; c++) {
      if (sizes[c]! > SCRIPT_MAX_COMMAND_ARGS) this.tooLarge = true;
      this.commandItems.push(item);
      this.commandEffects.push(owner);
    }
    this.groupCommands += sizes.length - from;
  }

  /** Adds an extra emit's commands (a dead letter) to the current item; failures are reported against no effect. */
  addExtra(extra: ExtraEmit): void {
    const before = this.body.commandSizes.length;
    writeExtraEmitCommands(extra, this.body);
    this.track(before, undefined);
  }

  /**
   * Queues the batch on `transaction`; the returned function reads the transaction's replies.
   * Normally that is one EVAL. A batch with a command too large for the script sends every command
   * as itself and one XACK instead: still one transaction, but the ownership of its entries is then
   * only what the consumer checked before committing.
   */
  queueOn(transaction: Pipeline): (replies: [Error | null, unknown][]) => BatchResult<Item> {
    this.complete();
    if (!this.tooLarge) {
      // Inside a transaction the body goes with it: a NOSCRIPT there would end the transaction
      // and its WATCH, and the guarded items would have to be checked again.
      this.args[SCRIPT] = RUN_BATCH;
      transaction.sendCommand(new FlatCommand('eval', this.args, this.body));
      return ([[error, reply] = [new Error('no reply from the transaction'), null]]) => {
        // The script failing as a whole (not one of its commands) is not a per-message problem:
        // the consumer then checks which of its entries are still pending.
        if (error) throw error;
        return this.scriptResult(reply);
      };
    }
    const body = this.body;
    const commands = body.commandStarts.map((start, c) => body.read(start, body.commandSizes[c]!));
    for (const command of commands) {
      const sent = command[0] === DEAD_LETTER_APPEND ? asEval(command).map(String) : command;
      transaction.sendCommand(new FlatCommand(sent[0]!, sent.slice(1)));
    }
    if (this.source && this.entries.length > 0)
      transaction.sendCommand(new FlatCommand('xack', [this.source.stream, this.source.group, ...this.entries]));
    return (replies) => {
      const failures: EffectFailure<Item>[] = [];
      let trimmed = 0;
      replies.forEach(([error, reply], i) => {
        if (error) failures.push(this.failure(i, error));
        else if (i < commands.length && commands[i]![0] === DEAD_LETTER_APPEND) trimmed += Number(reply);
      });
      // Plain commands cannot hold back an ack: a failed write fails its item after the fact.
      return { failures, lost: [], superseded: [], withheld: [], waiting: [], unguarded: [], trimmed };
    };
  }

  /**
   * Runs the batch as one EVAL in a transaction (MULTI, EVAL, EXEC) on a connection holding
   * WATCHes; null when a WATCHed key changed and nothing ran. The three commands are written as
   * one socket write (corked), the batch's bytes as they are: ioredis's own transaction joins its
   * commands into one new Buffer, a copy of the whole batch (~1.5 MB for a governor batch), and
   * its queue, promises and reply unwrapping for one command. Not for an oversized batch (queueOn).
   */
  async runInTransaction(connection: Redis): Promise<BatchResult<Item> | null> {
    this.completeScripted();
    // Inside a transaction the body goes with it: a NOSCRIPT there would end the transaction
    // and its WATCH, and the guarded items would have to be checked again.
    this.args[SCRIPT] = RUN_BATCH;
    const socket = connection.stream;
    socket.cork();
    let sent: Promise<unknown>[];
    try {
      sent = [new Command('multi', []), new FlatCommand('eval', this.args, this.body), new Command('exec', [])].map(
        (command) => connection.sendCommand(command) as Promise<unknown>,
      );
    } finally {
      socket.uncork();
    }
    const settled = await Promise.allSettled(sent);
    // The first refusal says why (EXEC's EXECABORT only repeats that something was refused).
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    const replies = (settled[2] as PromiseFulfilledResult<unknown>).value;
    if (replies === null) return null;
    const [reply] = replies as unknown[];
    // The script failing as a whole (not one of its commands) is not a per-message problem:
    // the consumer then checks which of its entries are still pending.
    if (reply instanceof Error) throw reply;
    return this.scriptResult(reply);
  }

  /**
   * Runs the batch as one EVALSHA of its own, for a commit with nothing WATCHed: the script is
   * atomic by itself, so MULTI and EXEC around it would only add two commands, two socket
   * writes and two replies. When Redis does not know the script (a restart, SCRIPT FLUSH: it
   * answers NOSCRIPT and runs nothing) the body is sent once with EVAL, which caches it again
   * (the body is ~10 KB: sent with every batch it cost Node ~40 µs to encode and the socket ~70 µs
   * to write, and Redis hashed it every time). Not for an oversized batch (see queueOn).
   */
  async runAlone(connection: RedisClient): Promise<BatchResult<Item>> {
    this.completeScripted();
    const reply = await sendScript(connection, RUN_BATCH, (name, script) => {
      this.args[SCRIPT] = script;
      return new FlatCommand(name, this.args, this.body);
    });
    return this.scriptResult(reply);
  }

  /** RUN_BATCH's answer, its item numbers turned back into items. */
  private scriptResult(reply: unknown): BatchResult<Item> {
    const [failed, lost, superseded, withheld, waiting, unguarded, trimmed] = reply as [
      (number | string)[],
      number[],
      number[],
      number[],
      number[],
      number[],
      number,
    ];
    const failures: EffectFailure<Item>[] = [];
    for (let i = 0; i < failed.length; i += 2) failures.push(this.failure(Number(failed[i]) - 1, new ReplyError(String(failed[i + 1]))));
    const items = (groups: number[]) => groups.map((group) => this.itemOfGroup[group - 1]!);
    return {
      failures,
      lost: items(lost),
      superseded: items(superseded),
      withheld: items(withheld),
      waiting: items(waiting),
      unguarded: items(unguarded),
      trimmed,
    };
  }

  private failure(command: number, error: Error): EffectFailure<Item> {
    return { item: this.commandItems[command], effect: this.commandEffects[command], error };
  }

  /** Ends the batch, which goes as one script (not an oversized batch: queueOn sends that). */
  private completeScripted(): void {
    this.complete();
    if (this.tooLarge) throw new Error('an oversized batch goes out as plain commands in a transaction (queueOn)');
  }

  /** Ends the batch: its last item's count filled in, its size noted for the committer's next. */
  private complete(): void {
    this.endItem();
    this.body.settleSize();
  }

  private endItem(): void {
    if (this.groupCountAt >= 0) this.body.fillCount(this.groupCountAt, this.groupCommands);
  }
}
