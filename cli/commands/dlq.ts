import type * as z from 'zod';
import type { DeadLetterReason } from '../../runtime/host/index.js';
import { allHandlers } from '../../handlers/index.js';
import type { RedisClient } from '../../runtime/host/index.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import type { Command } from '../command.js';
import { describeIssues, readableDeadLetterError } from '../validation-issues.js';
import {
  dropEntries,
  readEntry,
  readSource,
  replayEntry,
  ReplayWriteError,
  scan,
  STREAM_ID,
  type DeadLetterEntry,
  type EntryFilter,
} from '../dlq-store.js';
import { ExitCode, OperationalError, UsageError } from '../errors.js';
import { recordOperatorAction } from '../operator-event.js';
import { auditFailureMessage } from '../audit.js';
import { isoTime, printJson, Progress, table, truncate } from '../output.js';
import { requireReason } from '../reason.js';
import { withRedis } from '../redis.js';
import { withRedisWrite } from '../write-target.js';

/** Below this many entries a progress bar is noise. */
const PROGRESS_FROM = 10;

const filterOptions = {
  failure: { type: 'string' },
  handler: { type: 'string' },
} as const;

const filterHelp = [
  '  --failure F      only entries dead-lettered for F (invalid_input, handler_failed, fallback_failed,',
  '                   too_many_deliveries, commit_failed)',
  '  --handler H      only entries of handler H (e.g. heat-gate)',
];

/** Written to the audit event and checked in help: why the operator replays or drops. */
const auditHelp = '  --reason TEXT    why: required (recorded with your user, host and the time on the governor events stream)';

/** What --failure filters on: the reasons the runtime dead-letters for (runtime/engine/dead-letter.ts). */
const FAILURES: readonly DeadLetterReason[] = [
  'invalid_input',
  'handler_failed',
  'fallback_failed',
  'too_many_deliveries',
  'commit_failed',
];

/**
 * The audit text of a replay or drop. One that is a failure's name was meant as --failure: taken as
 * the audit text, it would leave the selection unfiltered (`drop --all --reason too_many_deliveries`
 * would drop every entry), so it is refused.
 */
function auditReason(command: string, reason: string | undefined): string {
  const text = requireReason(command, reason);
  if ((FAILURES as readonly string[]).includes(text))
    throw new UsageError(
      `--reason "${text}" names a failure: --reason is the audit text (why you do this), --failure ${text} selects the entries dead-lettered for it`,
      command,
    );
  return text;
}

function filterOf(values: { failure?: string; handler?: string }): EntryFilter {
  return { reason: values.failure, handler: values.handler };
}

function checkIds(command: string, ids: readonly string[]): void {
  const bad = ids.filter((id) => !STREAM_ID.test(id));
  if (bad.length > 0) throw new UsageError(`not a stream entry id: ${bad.join(', ')} (expected e.g. 1769581932000-0)`, command);
}

function asJson(entry: DeadLetterEntry) {
  return {
    id: entry.id,
    handler: entry.handler,
    source_stream: entry.sourceStream,
    source_id: entry.sourceId,
    group: entry.group,
    reason: entry.reason,
    error: entry.error,
    attempts: entry.attempts,
    truncated: entry.truncated,
    dead_lettered_at: entry.deadLetteredAt,
    fields: entry.fields ?? null,
  };
}

const listHelp = [
  'Usage: quantum-gates dlq list [--limit N] [--failure F] [--handler H] [--json]',
  '',
  'Lists dead-lettered messages, newest first, from $DLQ_STREAM (default quantum:stream:dlq).',
  '',
  'Options:',
  '  --limit N        at most N entries (default 50)',
  ...filterHelp,
  '  --json           print {stream, total, entries: [...]} with every field',
].join('\n');

const list: Command = {
  name: 'dlq list',
  summary: 'list dead-lettered messages',
  help: listHelp,
  async run(argv, io) {
    const args = parseCommandArgs('dlq list', argv, {
      ...filterOptions,
      reason: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    const limit = positiveInt('dlq list', args.values.limit, '--limit', 50);
    if (args.values.reason !== undefined)
      throw new UsageError(
        '--reason is not an option of dlq list: filter with --failure F (e.g. --failure too_many_deliveries)',
        'dlq list',
      );
    const filter = filterOf(args.values);
    const { entries, total, stream } = await withRedis(io, async (redis, config) => ({
      stream: config.DLQ_STREAM,
      total: await redis.xlen(config.DLQ_STREAM),
      entries: await scan(redis, config.DLQ_STREAM, { filter, limit, newestFirst: true }),
    }));
    if (args.values.json) {
      printJson(io, { stream, total, entries: entries.map(asJson) });
      return ExitCode.ok;
    }
    if (entries.length === 0) {
      io.out(`no dead-lettered messages${total > 0 ? ' match' : ''} in ${stream} (${total} in total)`);
      return ExitCode.ok;
    }
    io.out(
      table(
        ['ID', 'DEAD-LETTERED', 'HANDLER', 'REASON', 'TRIES', 'SOURCE', 'ERROR'],
        entries.map((e) => [
          e.id,
          isoTime(e.deadLetteredAt),
          e.handler,
          e.reason,
          e.attempts,
          `${e.sourceStream} ${e.sourceId}`,
          `${e.truncated ? '[truncated] ' : ''}${truncate(readableDeadLetterError(e.reason, e.error), 60)}`,
        ]),
      ),
    );
    io.out(`\n${entries.length} shown, ${total} in ${stream}`);
    return ExitCode.ok;
  },
};

const showHelp = [
  'Usage: quantum-gates dlq show <id> [--json]',
  '',
  'Shows one dead-lettered message: why it failed and the original fields.',
  'Exit 1 when the id is not in the dead-letter stream.',
].join('\n');

const show: Command = {
  name: 'dlq show',
  summary: 'show one dead-lettered message',
  help: showHelp,
  async run(argv, io) {
    const args = parseCommandArgs('dlq show', argv, { json: { type: 'boolean' } }, { positionals: true });
    if (args.positionals.length !== 1) throw new UsageError('expects exactly one entry id', 'dlq show');
    const id = args.positionals[0]!;
    checkIds('dlq show', [id]);
    const entry = await withRedis(io, (redis, config) => readEntry(redis, config.DLQ_STREAM, id));
    if (!entry) throw new OperationalError(`${id} is not in the dead-letter stream`);
    if (args.values.json) {
      printJson(io, asJson(entry));
      return ExitCode.ok;
    }
    const rows: [string, string][] = [
      ['id', entry.id],
      ['handler', entry.handler],
      ['reason', entry.reason],
      ['attempts', String(entry.attempts)],
      ['source', `${entry.sourceStream} ${entry.sourceId} (group ${entry.group})`],
      ['dead-lettered', isoTime(entry.deadLetteredAt)],
      ['truncated', entry.truncated ? 'yes: replay needs --from-source' : 'no'],
      ['error', readableDeadLetterError(entry.reason, entry.error)],
    ];
    io.out(rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n'));
    io.out('fields:');
    if (entry.fields === undefined) io.out('  (unreadable)');
    else for (const [k, v] of Object.entries(entry.fields)) io.out(`  ${k} = ${v}`);
    return ExitCode.ok;
  },
};

/** The entries a replay or drop acts on: the ids given, or every entry matching the filter. */
async function selectEntries(
  redis: RedisClient,
  dlq: string,
  ids: readonly string[],
  all: boolean,
  filter: EntryFilter,
): Promise<{ entries: DeadLetterEntry[]; missing: string[] }> {
  if (all) return { entries: await scan(redis, dlq, { filter }), missing: [] };
  const entries: DeadLetterEntry[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const entry = await readEntry(redis, dlq, id);
    if (entry) entries.push(entry);
    else missing.push(id);
  }
  return { entries, missing };
}

function selectionArgs(
  command: string,
  positionals: readonly string[],
  values: { all?: boolean; failure?: string; handler?: string },
): void {
  if (values.all && positionals.length > 0) throw new UsageError('give entry ids or --all, not both', command);
  if (!values.all && positionals.length === 0) throw new UsageError('expects entry ids, or --all', command);
  if (!values.all && (values.failure !== undefined || values.handler !== undefined)) {
    throw new UsageError('--failure and --handler select entries for --all only', command);
  }
  checkIds(command, positionals);
}

const replayHelp = [
  'Usage: quantum-gates dlq replay <id...> | --all [--failure F] [--handler H] --reason TEXT [--force] [--from-source] [--dry-run] [--json]',
  '',
  'Puts dead-lettered messages back on the stream they came from (source_stream), oldest first,',
  'and removes them from the dead-letter stream, each in one atomic step: an entry that cannot be',
  'written stays a dead letter. The handler then processes them again like any new message. Fix',
  'the cause first (see `dlq show`). Each replayed entry carries two more fields: replayed_from',
  '(the dead letter id) and original_id (the first source entry id, whose time is when the',
  'message was produced; a gate ages a replayed message by it).',
  '',
  "Every entry is first checked against its gate's input schema; if any fails, nothing is",
  'replayed (exit 2) and each failure is named. The replay is recorded as a dlq_replay event',
  '(actor, host, time, reason, ids) on the governor events stream.',
  '',
  'Options:',
  '  --all            every entry (narrowed by --failure / --handler)',
  ...filterHelp,
  auditHelp,
  "  --force          replay entries that fail their gate's schema (or whose gate is unknown) anyway",
  '  --from-source    for entries marked truncated (a field over 64 KiB was cut in the copy), re-read',
  '                   the original from source_stream by source_id; without it they are refused',
  '  --dry-run        show what would be replayed, change nothing',
  '  --json           print {replayed: [{id, stream, new_id}], refused: [{id, why}], invalid: [{id, handler, issues}]}',
  '',
  'Exit 0 when every selected entry was replayed, 1 when any was refused or missing,',
  "2 when any fails its gate's schema (then nothing is replayed).",
].join('\n');

interface Prepared {
  readonly entry: DeadLetterEntry;
  readonly fields: Record<string, string>;
}

interface Invalid {
  readonly id: string;
  readonly handler: string;
  readonly issues: string;
}

const replay: Command = {
  name: 'dlq replay',
  summary: 'put dead-lettered messages back on their source stream',
  help: replayHelp,
  async run(argv, io) {
    const args = parseCommandArgs(
      'dlq replay',
      argv,
      {
        ...filterOptions,
        all: { type: 'boolean' },
        reason: { type: 'string' },
        force: { type: 'boolean' },
        'from-source': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      { positionals: true },
    );
    selectionArgs('dlq replay', args.positionals, args.values);
    const fromSource = args.values['from-source'] === true;
    const dryRun = args.values['dry-run'] === true;
    const force = args.values.force === true;
    // A dry run writes nothing, so it needs no reason and names no target.
    const reason = dryRun && args.values.reason === undefined ? '' : auditReason('dlq replay', args.values.reason);
    const connect = dryRun ? withRedis : withRedisWrite;

    const result = await connect(io, async (redis, config) => {
      const { entries, missing } = await selectEntries(
        redis,
        config.DLQ_STREAM,
        args.positionals,
        args.values.all === true,
        filterOf(args.values),
      );
      entries.sort((a, b) => compareIds(a.id, b.id));
      const replayed: { id: string; stream: string; new_id: string | null }[] = [];
      const refused: { id: string; why: string }[] = missing.map((id) => ({ id, why: 'not in the dead-letter stream' }));
      const prepared: Prepared[] = [];
      for (const entry of entries) {
        const outcome = await prepare(redis, entry, fromSource);
        if (typeof outcome === 'string') refused.push({ id: entry.id, why: outcome });
        else prepared.push(outcome);
      }
      // Checked before anything is written, so a refusal (exit 2) leaves every entry in place.
      const invalid = force ? [] : prepared.map(check).filter((i): i is Invalid => i !== undefined);
      if (invalid.length > 0) return { replayed, refused, invalid };

      const progress = prepared.length >= PROGRESS_FROM ? new Progress(io, dryRun ? 'checked' : 'replayed', prepared.length) : undefined;
      for (const [n, { entry, fields }] of prepared.entries()) {
        if (dryRun) replayed.push({ id: entry.id, stream: entry.sourceStream, new_id: null });
        else {
          const why = await moveOne(redis, config.DLQ_STREAM, entry, fields, replayed);
          if (why) refused.push({ id: entry.id, why });
        }
        progress?.update(n + 1);
      }
      let auditFailure: string | undefined;
      if (!dryRun && replayed.length > 0) {
        ({ failure: auditFailure } = await recordOperatorAction(redis, io, {
          event: 'dlq_replay',
          reason,
          ids: replayed.map((r) => r.id),
          extra: { forced: force ? '1' : '0', dlq_stream: config.DLQ_STREAM },
        }));
      }
      return { replayed, refused, invalid, auditFailure };
    });

    const { auditFailure, ...done } = result;
    if (args.values.json) printJson(io, { dry_run: dryRun, ...done });
    else {
      for (const r of result.replayed)
        io.out(dryRun ? `would replay ${r.id} to ${r.stream}` : `replayed ${r.id} to ${r.stream} as ${r.new_id}`);
      for (const r of result.refused) io.err(`refused ${r.id}: ${r.why}`);
      for (const i of result.invalid) io.err(`invalid ${i.id} (${i.handler}): ${i.issues}`);
      if (result.invalid.length > 0) {
        io.err(
          `nothing replayed: ${result.invalid.length} ${result.invalid.length === 1 ? 'entry fails' : 'entries fail'} the gate's input schema; fix the cause, or replay with --force`,
        );
      } else io.out(`${result.replayed.length} ${dryRun ? 'would be replayed' : 'replayed'}, ${result.refused.length} refused`);
    }
    if (result.invalid.length > 0) return ExitCode.usage;
    if (auditFailure !== undefined) {
      io.err(`quantum-gates dlq replay: ${auditFailureMessage(`${deadLetters(result.replayed.length)} replayed`, auditFailure)}`);
      return ExitCode.failure;
    }
    return result.refused.length > 0 ? ExitCode.failure : ExitCode.ok;
  },
};

/** The fields to put back, or why the entry cannot be replayed. */
async function prepare(redis: RedisClient, entry: DeadLetterEntry, fromSource: boolean): Promise<Prepared | string> {
  if (entry.sourceStream === '') return 'no source_stream recorded';
  let fields = entry.fields;
  if (entry.truncated) {
    if (!fromSource) return 'truncated copy (a field was over 64 KiB); replay with --from-source to re-read the original';
    fields = await readSource(redis, entry);
    if (!fields) return `the original ${entry.sourceId} is no longer in ${entry.sourceStream} (trimmed)`;
  }
  if (fields === undefined) return 'the stored fields are unreadable';
  if (Object.keys(fields).length === 0) return 'the original entry had no fields';
  return { entry, fields: withProvenance(entry, fields) };
}

/**
 * The fields as replayed: replayed_from names this dead letter; original_id keeps the first
 * source entry's id (its time is when the message was produced), through any number of replays.
 */
function withProvenance(entry: DeadLetterEntry, fields: Record<string, string>): Record<string, string> {
  const originalId = fields.original_id !== undefined && STREAM_ID.test(fields.original_id) ? fields.original_id : entry.sourceId;
  return { ...fields, original_id: originalId, replayed_from: entry.id };
}

/** The gate's verdict on the fields, as its stream consumer would give it; undefined when valid. */
function check({ entry, fields }: Prepared): Invalid | undefined {
  const gate = allHandlers.find((h) => h.name === entry.handler);
  if (!gate)
    return { id: entry.id, handler: entry.handler, issues: `no gate named "${entry.handler}" here, so its schema cannot be checked` };
  const parsed = (gate.input as z.ZodType).safeParse(fields);
  if (parsed.success) return undefined;
  return {
    id: entry.id,
    handler: entry.handler,
    issues: describeIssues(parsed.error.issues),
  };
}

async function moveOne(
  redis: RedisClient,
  dlq: string,
  entry: DeadLetterEntry,
  fields: Record<string, string>,
  replayed: { id: string; stream: string; new_id: string | null }[],
): Promise<string | undefined> {
  let newId: string | undefined;
  try {
    newId = await replayEntry(redis, dlq, entry, entry.sourceStream, fields);
  } catch (error) {
    if (error instanceof ReplayWriteError) return `${error.message}; it stays in the dead-letter stream`;
    throw error;
  }
  if (newId === undefined) return 'already gone (replayed or dropped meanwhile)';
  replayed.push({ id: entry.id, stream: entry.sourceStream, new_id: newId });
  return undefined;
}

const dropHelp = [
  'Usage: quantum-gates dlq drop <id...> | --all --yes [--failure F] [--handler H] --reason TEXT [--json]',
  '',
  'Deletes dead-lettered messages for good (after they were handled another way). Only entries',
  'still there count as dropped (one replayed or dropped meanwhile is reported missing). Recorded',
  'as a dlq_drop event (actor, host, time, reason, ids) on the governor events stream.',
  '',
  'Options:',
  '  --all            every entry (narrowed by --failure / --handler); requires --yes',
  ...filterHelp,
  auditHelp,
  '  --yes            confirm --all',
  '  --json           print {dropped: [...ids], missing: [...ids]}',
  '',
  'Exit 1 when any id given was not in the dead-letter stream.',
].join('\n');

const drop: Command = {
  name: 'dlq drop',
  summary: 'delete dead-lettered messages',
  help: dropHelp,
  async run(argv, io) {
    const args = parseCommandArgs(
      'dlq drop',
      argv,
      { ...filterOptions, all: { type: 'boolean' }, reason: { type: 'string' }, yes: { type: 'boolean' }, json: { type: 'boolean' } },
      { positionals: true },
    );
    selectionArgs('dlq drop', args.positionals, args.values);
    if (args.values.all && !args.values.yes)
      throw new UsageError('--all deletes every selected entry for good: add --yes to confirm', 'dlq drop');
    const reason = auditReason('dlq drop', args.values.reason);

    const result = await withRedisWrite(io, async (redis, config) => {
      const { entries, missing } = await selectEntries(
        redis,
        config.DLQ_STREAM,
        args.positionals,
        args.values.all === true,
        filterOf(args.values),
      );
      const dropped: string[] = [];
      const progress = entries.length >= PROGRESS_FROM ? new Progress(io, 'dropped', entries.length) : undefined;
      for (let i = 0; i < entries.length; i += 100) {
        const batch = await dropEntries(redis, config.DLQ_STREAM, entries.slice(i, i + 100));
        dropped.push(...batch.dropped);
        missing.push(...batch.gone);
        progress?.update(Math.min(i + 100, entries.length));
      }
      let auditFailure: string | undefined;
      if (dropped.length > 0) {
        ({ failure: auditFailure } = await recordOperatorAction(redis, io, {
          event: 'dlq_drop',
          reason,
          ids: dropped,
          extra: { dlq_stream: config.DLQ_STREAM },
        }));
      }
      return { dropped, missing, auditFailure };
    });
    const { auditFailure, ...done } = result;
    if (args.values.json) printJson(io, done);
    else {
      for (const id of result.missing) io.err(`not in the dead-letter stream: ${id}`);
      io.out(`${result.dropped.length} dropped`);
    }
    if (auditFailure !== undefined) {
      io.err(`quantum-gates dlq drop: ${auditFailureMessage(`${deadLetters(result.dropped.length)} dropped`, auditFailure)}`);
      return ExitCode.failure;
    }
    return result.missing.length > 0 ? ExitCode.failure : ExitCode.ok;
  },
};

function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split('-').map(BigInt) as [bigint, bigint];
  return aMs === bMs ? (aSeq < bSeq ? -1 : aSeq > bSeq ? 1 : 0) : aMs < bMs ? -1 : 1;
}

export const dlqCommands: readonly Command[] = [list, show, replay, drop];

/** "1 dead letter was", "3 dead letters were". */
const deadLetters = (n: number) => (n === 1 ? '1 dead letter was' : `${n} dead letters were`);
