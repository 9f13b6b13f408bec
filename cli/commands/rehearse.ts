import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { ReleaseRehearsal } from '../../app/cli-door.js';
import { describeRedis, type RuntimeConfig } from '../../runtime/host/index.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../io.js';
import { parseSince } from '../duration.js';
import { UsageError } from '../errors.js';
import { actorOf } from '../operator-event.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';
import { formatRehearsal } from '../rehearse/format.js';
import { formatRehearsalHtml } from '../rehearse/html.js';
import type { RehearsalReport } from '../rehearse/rehearse.js';

const NAME = 'rehearse';

const help = [
  'Usage: quantum-gates rehearse <release-dir|.> [--since TIME] [--gate NAME]... [--limit N] [--json | --html]',
  '',
  "Runs a release's gates on the decisions the running gates taped (each gate's input entry, the",
  'reply to every read its ctx made, its clock, and what it committed: the tape, TAPE_MAXLEN) and',
  'shows every decision that would come out differently: per gate and decision how many the same,',
  'how many changed their verdict (permit or block, reason, action, heat bucket, outcome, a write',
  'made or not) and how many differ only in other fields (settings the record echoes, figures,',
  'times, TTLs, scheduled jobs); then the first verdict changes field by field (before → after),',
  'then the other differences summed by field. --json holds every difference with its class. A read the',
  'tape cannot answer (the release reads a key the running code did not) is counted apart and',
  'named, never answered with a default. Nothing is written: effects are recorded and compared.',
  '',
  "Same inputs, new code: where a decision depends on the gate's own earlier decisions (the",
  "governor's reservations, cooldowns, rate windows), the tape holds them as they were read, so a",
  'rehearsal never answers what a different history would have led to.',
  '',
  '<release-dir> is a directory release.sh installed (BASE/releases/<id>); "." is the code this',
  'command runs. Settings: each gate taped the variables its settings parser read, as they were',
  "set (secrets left out: a name holding PASSWORD, TOKEN, SECRET or KEY comes from this command's",
  "environment); the release's parsers parse them, so a changed default shows as the decisions it",
  "changes, and this shell's variables are no settings. The report names every setting the",
  "release parses otherwise than the running gates did. --env-file FILE lays FILE's variables",
  'over the taped ones: other settings, on purpose.',
  '',
  'Options:',
  '  --since TIME  decisions taped since TIME (24h, 90m, or an ISO 8601 time); default: all',
  '  --gate NAME   only this gate (repeatable); default: every taped gate',
  '  --limit N     at most N decisions per gate, the oldest first',
  '  --json        the report as JSON',
  "  --html        the report as one HTML page: a chart of each gate's decisions, the differences as tables",
  "  --record FILE write the rehearsal's summary to FILE (release.sh: the release's rehearsal.json,",
  '                which the status page and `quantum-gates status` show)',
  '  --accept REASON  record the differences as accepted, for REASON, by $SUDO_USER, $USER or the login',
  '                   name (as every operator command names its actor)',
  '  --accept-other REASON  accept differences in other fields only, recorded as --accept records:',
  '                   exit 0 when no verdict changes, no read is unanswerable and every taped gate is',
  "                   in the release; otherwise nothing is accepted and the exit is 1 (release.sh's",
  '                   --accept-other-differences)',
  '',
  'Exit 0 when every decision came out the same (or, with --accept-other, differs only in other',
  'fields), 1 when one differs or cannot be answered from the tape or a taped gate is not in the',
  'release, 2 when the rehearsal could not run (no such release,',
  'a build older than its sources, Redis unreachable, no taped decisions where it read: the Redis',
  'and db are named, bad options). Records of a tape version the release does not read, tape',
  'entries that do not decode and reads never taped are named and counted on the last line',
  '("Not rehearsed: N taped decisions"), never compared: any of them is exit 1.',
].join('\n');

/** The Redis and db the tape was read from, as the report names it (no password). */
function tapeLocation(config: RuntimeConfig): string {
  const path = config.REDIS_URL ? new URL(config.REDIS_URL).pathname.replace(/^\//, '') : '';
  const db = /^\d+$/.test(path) ? path : String(config.REDIS_DB);
  return `Redis ${describeRedis(config)} db ${db}`;
}

/**
 * The settings an --env-file (or $QG_ENV_FILE) names, laid over the taped ones: the file's own
 * variables, not the shell's. A units' file found by default is where the tape's Redis is named,
 * no settings on purpose.
 */
function onPurpose(io: CliIo): Record<string, string> | undefined {
  if (io.envFile === undefined || io.envFileByDefault !== undefined) return undefined;
  return parseEnv(readFileSync(io.envFile, 'utf8')) as Record<string, string>;
}

/** Written whole under another name, then renamed: a reader never sees half a record. */
function writeRecord(path: string, record: ReleaseRehearsal): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export const rehearseCommand: Command = {
  name: NAME,
  summary: "re-decide the taped decisions with a release's gates; show what would change",
  help,
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs(
      NAME,
      argv,
      {
        since: { type: 'string' },
        gate: { type: 'string', multiple: true },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        html: { type: 'boolean' },
        record: { type: 'string' },
        accept: { type: 'string' },
        'accept-other': { type: 'string' },
      },
      { positionals: true },
    );
    if (values.json && values.html) throw new UsageError('choose one of --json and --html', NAME);
    if (positionals.length !== 1) throw new UsageError('name one release directory, or "." for this checkout', NAME);
    const since = values.since === undefined ? undefined : parseSince(values.since, io.now());
    if (values.since !== undefined && since === undefined)
      throw new UsageError(`--since must be a duration (24h) or an ISO 8601 time (got "${values.since}")`, NAME);
    const limit = values.limit === undefined ? undefined : positiveInt(NAME, values.limit, '--limit', 1);
    if (values.accept !== undefined && values.accept.trim() === '') throw new UsageError('--accept needs a reason', NAME);
    const acceptOther = values['accept-other'];
    if (acceptOther !== undefined && acceptOther.trim() === '') throw new UsageError('--accept-other needs a reason', NAME);
    if (values.accept !== undefined && acceptOther !== undefined) throw new UsageError('choose one of --accept and --accept-other', NAME);
    const accepting = values.accept ?? acceptOther;
    const accepted =
      accepting === undefined
        ? null
        : {
            reason: accepting.trim(),
            by: actorOf(io),
            at: io.now(),
            scope: values.accept === undefined ? ('other' as const) : ('all' as const),
          };
    let report: RehearsalReport;
    try {
      // Loaded here: a rehearsal runs the runtime's ctx and metrics (prom-client), which no other command needs at start.
      const [{ rehearse }, { loadRelease }] = await Promise.all([import('../rehearse/rehearse.js'), import('../rehearse/release.js')]);
      const release = await loadRelease(positionals[0]!);
      report = await withRedis(io, (redis, config) =>
        // --json holds every difference; the text and the page the first ones of each gate.
        rehearse(
          redis,
          release,
          io.env,
          { since, gates: values.gate, limit, settings: onPurpose(io), ...(values.json ? { examples: Infinity } : {}) },
          io.now(),
          tapeLocation(config),
        ),
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      io.err(`quantum-gates ${NAME}: could not rehearse: ${why}`);
      // Only --accept switches without a rehearsal: differences in other fields were never seen.
      if (values.record)
        writeRecord(values.record, { at: io.now(), could_not_run: why, accepted: accepted?.scope === 'all' ? accepted : null });
      return 2;
    }
    if (values.json) printJson(io, report);
    else if (values.html) io.out(formatRehearsalHtml(report, formatRehearsal(report)));
    else io.out(formatRehearsal(report));
    const { at, release, decisions, same, differ, verdicts, others, unanswerable } = report;
    // A taped decision nobody rehearsed (a gate the release lacks, another tape version, an entry
    // that does not decode, a read never taped) is never a pass, nor an other field.
    const refusing = verdicts > 0 || report.notRehearsed.total > 0 || report.gatesNotInRelease.length > 0;
    const kept = accepted?.scope === 'other' && refusing ? null : accepted;
    if (values.record)
      writeRecord(values.record, {
        at,
        release,
        decisions,
        same,
        differ,
        verdicts,
        others,
        unanswerable,
        not_rehearsed: report.notRehearsed.total,
        accepted: kept,
      });
    if (refusing) return 1;
    return others > 0 && kept?.scope !== 'other' ? 1 : 0;
  },
};
