import { SCRIPT_MAX_COMMAND_ARGS, ScriptBatch, type Command, type CommitReport, type GuardCheck } from './batch-script.js';
import type { CommitItem } from './delivery.js';
import { effectKey, type Effect } from './effects.js';
import type { RedisClient } from './connection.js';

/**
 * Commands a commit script runs at most for one item written ahead: a few hundred µs to 2 ms of
 * Redis, which holds every other client that long. A budget tick over a universe of 2,000 symbols
 * is 4,000 commands: in one call it held Redis 16-43 ms (bench `universe`, SLOWLOG). At upstream's
 * default three symbols a tick writes a few dozen commands: one call, nothing goes ahead.
 */
export const AHEAD_SLICE_COMMANDS = 256;

/** Writes that, applied twice, leave what applying them once leaves. */
const REPEATABLE: ReadonlySet<Effect['op']> = new Set([
  'putHash',
  'setKey',
  'deleteKey',
  'addToSet',
  'removeFromSet',
  'addToSortedSet',
  'trimSortedSet',
]);

/**
 * The commands of `item` that may be written ahead of its commit, a slice at a time, or none. Only
 * for an item of no stream entry (a job: no entry whose ownership the slices would have to check),
 * no newest-wins condition and no stream order, with more than a slice of commands: of those, its
 * repeatable writes to its own keys (OwnKeys.writes: each read alone, so no reader needs two of
 * them from one commit) that it neither guards nor writes otherwise. Its appends, its other writes
 * and every key it guards (a job's done key among them) go last, with its acknowledgement, so what
 * a reader of its outputs or guards sees last still says it is done. A crash between slices leaves
 * some writes applied and the item not done: it runs again and writes them again.
 */
export function aheadCommands<Item extends CommitItem>(
  item: Item,
  commands: readonly Command<Item>[],
  ownWrite: (key: string, item: Item) => boolean,
): { ahead: Command<Item>[]; last: Command<Item>[] } | undefined {
  const recorder = item.recorder;
  if (commands.length <= AHEAD_SLICE_COMMANDS || item.entryId !== undefined || recorder === undefined) return undefined;
  if (recorder.condition !== undefined || recorder.order.length > 0) return undefined;
  // A command too large for the script sends the whole commit plain (TransactionCommitter.commitPlain).
  if (commands.some((command) => command.args.length > SCRIPT_MAX_COMMAND_ARGS)) return undefined;
  // Keys that stay with the commit: a write ahead never changes the order of two writes to one key.
  const kept = new Set(recorder.guards.map((guard) => guard.key));
  const repeatable = (effect: Effect | undefined): effect is Exclude<Effect, { op: 'emit' }> =>
    effect !== undefined && effect.op !== 'emit' && REPEATABLE.has(effect.op);
  for (const command of commands) if (!repeatable(command.effect)) kept.add(command.effect ? effectKey(command.effect) : command.args[1]!);
  const ahead: Command<Item>[] = [];
  const last: Command<Item>[] = [];
  for (const command of commands)
    (repeatable(command.effect) && !kept.has(command.effect.key) && ownWrite(command.effect.key, item) ? ahead : last).push(command);
  return ahead.length === 0 ? undefined : { ahead, last };
}

/**
 * Writes `ahead` in slices of AHEAD_SLICE_COMMANDS, each checked against the item's guards as its
 * commit is; an effect's commands never straddle two slices (a replacing put's DEL and HSET go
 * together). Returns the report of the first slice the item did not commit (refused, a write
 * failed): the item ends there with that answer; undefined when every slice applied.
 */
export async function writeAhead<Item extends CommitItem>(
  connection: RedisClient,
  item: Item,
  checks: readonly GuardCheck[],
  ahead: readonly Command<Item>[],
  streamMaxLen: number,
  /** Of each decision (its recorder, which a re-run replaces), the ahead commands that have landed: the committer's. */
  landed: WeakMap<object, number>,
): Promise<CommitReport<Item> | undefined> {
  // A commit retried after a lost connection resumes after the slices that landed: each lost one
  // costs a slice, not the tick, so faults closer together than a whole tick still let it finish.
  const recorder = item.recorder!;
  for (let from = landed.get(recorder) ?? 0; from < ahead.length;) {
    let to = Math.min(ahead.length, from + AHEAD_SLICE_COMMANDS);
    while (to < ahead.length && ahead[to]!.effect === ahead[to - 1]!.effect) to++;
    const slice = new ScriptBatch<Item>(undefined, streamMaxLen);
    slice.add(item, checks, new Set(), ahead.slice(from, to));
    const report = await slice.run(connection);
    if (item.answer !== 'committed') return report;
    landed.set(recorder, (from = to));
  }
  return undefined;
}
