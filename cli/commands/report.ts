import { highest, lowest } from '../../domain/extent.js';
import { streams } from '../../schemas/keys.js';
import type { RedisClient } from '../../runtime/host/index.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { parseSince } from '../duration.js';
import { ExitCode, parsedOrUsage, UsageError } from '../errors.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';
import { formatCsv, formatDecisionsCsv, formatText } from '../report/shadow-format.js';
import { aggregateShadow, shadowDecisions, type CalibratedEntry } from '../report/shadow.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { readFileSync } from 'node:fs';
import { parseHorizons } from '../../handlers/outcomes/horizons.js';
import { REFERENCE_KINDS } from '../../handlers/outcomes/follow-up.js';
import { outcomeEntrySchema, type Outcome } from '../../schemas/outcome.js';
import { aggregateOutcomes } from '../report/outcomes.js';
import { formatOutcomesCsv, formatOutcomesText } from '../report/outcomes-format.js';
import { dumpOf, parseDump, replayOutcomes } from '../report/outcomes-replay.js';
import { formatPending, pendingFollowUps, type PendingFollowUps } from '../report/outcomes-pending.js';
import { formatUnfollowed, unfollowedDecisions, type Unfollowed } from '../report/outcomes-unfollowed.js';
import { keys } from '../../schemas/keys.js';
import { parseHeatGateConfig } from '../../handlers/heat-gate/config.js';
import { limitsOf, parseGovernorConfig } from '../../handlers/governor/config.js';
import { heatDecisionRecord, parseHeatGrid, type HeatDecisionRecord, type Thresholds } from '../report/calibrate-heat.js';
import { governorDecisionRecord, parseCapSetting, type CapSetting, type GovernorDecisionRecord } from '../report/calibrate-governor.js';
import { calibrateReport } from '../report/calibrate.js';
import { formatCalibrateCsv, formatCalibrateText } from '../report/calibrate-format.js';
import { formatCalibrateHtml } from '../report/calibrate-html.js';

const help = [
  'Usage: quantum-gates report shadow [--since 24h] [--until T] [--bin-width 0.05] [--json | --csv]',
  '',
  "The heat gate's shadow-compare analysis (seed 001): from the calibrated stream",
  `(${streams.harvestCalibrated}, or $P26_OUTPUT_STREAM), how often FULL_CLOSE was downgraded`,
  'overall, per heat bucket and per symbol, and the distribution of portfolio heat.',
  '',
  'Options:',
  '  --since S        start of the window: a duration back from now (90m, 24h, 7d, 1h30m)',
  '                   or an ISO time (2026-01-27T00:00:00Z); default 24h',
  '  --until T        end of the window, same forms; default now',
  '  --bin-width W    heat histogram bin width (default 0.05; the last bin is open from 1.0)',
  '  --json           the report as JSON',
  '  --csv            the report as CSV, one row per number: section,group,metric,value',
  '  --per-decision   instead of the summary, every decision (kept and downgraded), one per',
  '                   row with --csv, a list with --json: id, ts, plan_id, symbol, heat, bucket,',
  '                   original_action, calibrated_action, reason, mode (for a join with fills)',
].join('\n');

const CHUNK = 1000;

/** The report's window from --since (default `defaultSince` back from now) and --until (default now). */
function parseWindow(
  values: { since?: string; until?: string },
  defaultSince: string,
  now: number,
  command: string,
): { from: number; to: number } {
  const sinceText = values.since ?? defaultSince;
  const from = parseSince(sinceText, now);
  if (from === undefined)
    throw new UsageError(`--since must be a duration such as ${defaultSince} or an ISO time (got "${sinceText}")`, command);
  const to = values.until === undefined ? now : parseSince(values.until, now);
  if (to === undefined) throw new UsageError(`--until must be a duration such as 1h or an ISO time (got "${values.until}")`, command);
  if (to < from) throw new UsageError('--until is before --since', command);
  return { from, to };
}

async function readWindow(redis: RedisClient, stream: string, from: number, to: number): Promise<CalibratedEntry[]> {
  const entries: CalibratedEntry[] = [];
  let start = String(from);
  for (;;) {
    const chunk = (await redis.xrange(stream, start, String(to), 'COUNT', CHUNK)) as [string, string[]][];
    for (const [id, list] of chunk) {
      entries.push({ id, fields: fieldsToRecord(list) });
    }
    if (chunk.length < CHUNK) return entries;
    start = `(${chunk[chunk.length - 1]![0]}`;
  }
}

const outcomesHelp = [
  'Usage: quantum-gates report outcomes [--since 48h] [--until T] [--json | --csv | --dump]',
  '       quantum-gates report outcomes --replay FILE [--horizons 5m,1h,4h] [--json | --csv]',
  '',
  'What every decision that changed exposure would have done to PnL: each heat-gate downgrade',
  '(in shadow mode, what enforce would have done) and each governor block of an open, marked to',
  `market at OUTCOME_HORIZONS (${streams.gatesOutcome}, or $OUTCOME_STREAM). Per horizon, per`,
  'kind, heat bucket and symbol: decisions, total and median PnL of the difference, the worst',
  'single outcome, the drawdown of the cumulative difference, a bootstrap 90 % interval, and a',
  'verdict line. Decisions still followed (a sample to come) are named with when their samples',
  'are due (--json: "pending"). Method and limits: docs/outcomes.md.',
  '',
  'Options:',
  '  --since S        start of the window (decision time): a duration back from now or an ISO time; default 48h',
  '  --until T        end of the window, same forms; default now',
  '  --json           the report as JSON',
  '  --csv            one row per decision and horizon (the --json field names)',
  '  --dump           the recorded decisions and prices as JSONL, for --replay',
  '  --replay FILE    compute the report offline from a JSONL dump of decisions and prices',
  '  --horizons H     horizons for --replay (default: OUTCOME_HORIZONS or 5m,1h,4h)',
].join('\n');

async function readOutcomes(
  redis: RedisClient,
  stream: string,
  from: number,
  to: number,
): Promise<{ samples: Outcome[]; unreadable: number }> {
  const samples: Outcome[] = [];
  let unreadable = 0;
  // Samples are written after their decision; the window is on decision time, so read from its start.
  for (const entry of await readWindow(redis, stream, from, Number.MAX_SAFE_INTEGER)) {
    const parsed = outcomeEntrySchema.safeParse(entry.fields);
    if (!parsed.success) unreadable += 1;
    else if (parsed.data.decided_at >= from && parsed.data.decided_at <= to) samples.push(parsed.data);
  }
  return { samples, unreadable };
}

const calibrateHelp = [
  'Usage: quantum-gates report calibrate [--since 7d] [--until T] [--heat-grid MIN:MAX,...] [--caps NAME=V,... ...] [--json | --csv | --html]',
  '',
  'Before switching shadow → enforce: what every threshold and cap would have done, from the',
  `decisions already recorded (${streams.heatDecision}, ${streams.governorEvents}) and the outcome`,
  `samples (${streams.gatesOutcome}). The heat as it was (percentiles, time in each bucket, each`,
  "symbol's share); for each HEAT_MIN:HEAT_MAX, the full closes the heat gate's own rule downgrades",
  'and their counterfactual PnL; three pairs proposed from the recorded heat, priced the same way;',
  "for each cap setting, the opens the governor's own rules permit or",
  'block; and a check that the configured settings reproduce every recorded decision. The configured',
  'settings are read from this environment (HEAT_MIN, HEAT_MAX, P26_APPLY_LAYER_ERA, GOV_*,',
  'OUTCOME_HORIZONS).',
  'Method and limits: docs/outcomes.md, "Choosing settings".',
  '',
  'Options:',
  '  --since S        start of the window (decision time): a duration back from now or an ISO time; default 7d',
  '  --until T        end of the window, same forms; default now',
  '  --heat-grid G    HEAT_MIN:HEAT_MAX pairs to try, comma-separated (0.25:0.65,0.001:0.01), beside the',
  '                   configured pair and the three proposed from the recorded heat',
  '  --caps C         one alternative governor setting, NAME=VALUE,... with NAME per_trade, total,',
  '                   positions, cooldown (or GOV_MAX_NOTIONAL_PER_TRADE_USDT, GOV_MAX_TOTAL_NOTIONAL_USDT,',
  '                   GOV_MAX_OPEN_POSITIONS, GOV_SYMBOL_COOLDOWN_SECONDS); repeat for more; 0 disables',
  '  --json           the report as JSON',
  '  --csv            the report as CSV, one row per number: section,group,metric,value',
  '  --html           the report as one HTML page, with a chart (SVG) per alternative',
].join('\n');

async function readRecords<T extends { readonly at: number }>(
  redis: RedisClient,
  stream: string,
  from: number,
  to: number,
  parse: (id: string, fields: Readonly<Record<string, string>>) => T | undefined,
): Promise<T[]> {
  // Entries are read from a minute before the window's start on and kept by the time the gate
  // decided (its own clock, which the entry id, Redis's clock, only approximates).
  return (await readWindow(redis, stream, Math.max(0, from - 60_000), Number.MAX_SAFE_INTEGER)).flatMap((e) => {
    const record = parse(e.id, e.fields);
    return record === undefined || record.at < from || record.at > to ? [] : [record];
  });
}

function settingsOf(env: Readonly<Record<string, string | undefined>>, command: string) {
  try {
    const heat = parseHeatGateConfig(env);
    return {
      thresholds: { min: heat.HEAT_MIN, max: heat.HEAT_MAX },
      era: heat.P26_APPLY_LAYER_ERA,
      heatValidityMs: heat.P26_HEAT_REFRESH_MS,
      limits: limitsOf(parseGovernorConfig(env)),
    };
  } catch (error) {
    throw new UsageError(`the configured settings: ${(error as Error).message}`, command);
  }
}

export const reportCommands: readonly Command[] = [
  {
    name: 'report calibrate',
    summary: 'what other heat thresholds and governor caps would have done, from the recorded decisions',
    help: calibrateHelp,
    async run(argv, io) {
      const command = 'report calibrate';
      const args = parseCommandArgs(command, argv, {
        since: { type: 'string' },
        until: { type: 'string' },
        'heat-grid': { type: 'string' },
        caps: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
        html: { type: 'boolean' },
      });
      if ([args.values.json, args.values.csv, args.values.html].filter(Boolean).length > 1)
        throw new UsageError('choose one of --json, --csv and --html', command);
      const { from, to } = parseWindow(args.values, '7d', io.now(), command);
      const heatGrid: Thresholds[] | undefined = parsedOrUsage('--heat-grid', command, () => {
        const grid = args.values['heat-grid'];
        return grid === undefined ? undefined : parseHeatGrid(grid);
      });
      const caps: CapSetting[] = parsedOrUsage('--caps', command, () => (args.values.caps ?? []).map(parseCapSetting));
      const settings = settingsOf(io.env, command);
      const horizons = parsedOrUsage('OUTCOME_HORIZONS', command, () => parseHorizons(io.env.OUTCOME_HORIZONS?.trim() || '5m,1h,4h'));
      const decisionStream = io.env.P26_DECISION_STREAM?.trim() || streams.heatDecision;
      const eventStream = io.env.STREAM_EVENTS?.trim() || streams.governorEvents;
      const outcomeStream = io.env.OUTCOME_STREAM?.trim() || streams.gatesOutcome;
      const [lo, hi] = [Math.floor(from), Math.floor(to)];
      const read = await withRedis(io, async (redis) => ({
        heat: await readRecords<HeatDecisionRecord>(redis, decisionStream, lo, hi, heatDecisionRecord),
        governor: await readRecords<GovernorDecisionRecord>(redis, eventStream, lo, hi, governorDecisionRecord),
        // Every sample written since the window began: each is joined to its decision by id.
        outcomes: await readOutcomes(redis, outcomeStream, lo, Number.MAX_SAFE_INTEGER),
      }));
      if (read.outcomes.unreadable > 0)
        io.err(`report calibrate: ${read.outcomes.unreadable} entries of ${outcomeStream} could not be read and are left out\n`);
      const report = calibrateReport({
        heatDecisions: read.heat,
        governorDecisions: read.governor,
        samples: read.outcomes.samples,
        window: { from, to },
        ...settings,
        heatGrid,
        caps,
        horizons,
      });
      if (args.values.json)
        printJson(io, {
          streams: { decisions: decisionStream, events: eventStream, outcomes: outcomeStream },
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          ...report,
        });
      else if (args.values.csv) io.out(formatCalibrateCsv(report));
      else {
        const text = formatCalibrateText(report, { from, to, streams: [decisionStream, eventStream, outcomeStream].join(', ') });
        io.out(args.values.html ? formatCalibrateHtml(report, text) : text);
      }
      return ExitCode.ok;
    },
  },
  {
    name: 'report outcomes',
    summary: 'what each decision that changed exposure did to PnL (counterfactual, per horizon)',
    help: outcomesHelp,
    async run(argv, io) {
      const command = 'report outcomes';
      const args = parseCommandArgs(command, argv, {
        since: { type: 'string' },
        until: { type: 'string' },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
        dump: { type: 'boolean' },
        replay: { type: 'string' },
        horizons: { type: 'string' },
      });
      if ([args.values.json, args.values.csv, args.values.dump].filter(Boolean).length > 1)
        throw new UsageError('choose one of --json, --csv and --dump', command);
      const stream = io.env.OUTCOME_STREAM?.trim() || streams.gatesOutcome;
      let samples: Outcome[];
      let window: { stream: string; from: number; to: number };
      let pending: PendingFollowUps | undefined;
      let unfollowed: Unfollowed | undefined;
      if (args.values.replay !== undefined) {
        if (args.values.dump) throw new UsageError('--dump reads Redis; it does not go with --replay', command);
        const horizons = parsedOrUsage('--horizons', command, () =>
          parseHorizons(args.values.horizons ?? io.env.OUTCOME_HORIZONS?.trim() ?? '5m,1h,4h'),
        );
        let text: string;
        try {
          text = readFileSync(args.values.replay, 'utf8');
        } catch (error) {
          throw new UsageError(`cannot read ${args.values.replay}: ${(error as Error).message}`, command);
        }
        const dump = parsedOrUsage(args.values.replay, command, () => parseDump(text));
        samples = replayOutcomes(dump.decisions, dump.prices, horizons);
        const times = dump.decisions.map((d) => d.decided_at);
        window = { stream: args.values.replay, from: times.length ? lowest(times) : 0, to: times.length ? highest(times) : 0 };
      } else {
        const { from, to } = parseWindow(args.values, '48h', io.now(), command);
        const horizons = parsedOrUsage('OUTCOME_HORIZONS', command, () => parseHorizons(io.env.OUTCOME_HORIZONS?.trim() || '5m,1h,4h'));
        const now = io.now();
        const [lo, hi] = [Math.floor(from), Math.floor(to)];
        const { read, scored, heat, governor, pendingIds } = await withRedis(io, async (redis) => ({
          read: await readOutcomes(redis, stream, lo, hi),
          // Decisions followed whose last sample is still ahead: what the report cannot show yet.
          scored: await redis.zrangebyscore(keys.outcomePending, `(${now}`, '+inf', 'WITHSCORES'),
          // The decisions that should have been followed, to count those that were not (by reason).
          heat: await readWindow(redis, io.env.P26_DECISION_STREAM?.trim() || streams.heatDecision, Math.max(0, lo - 60_000), hi + 60_000),
          governor: await readWindow(redis, io.env.STREAM_EVENTS?.trim() || streams.governorEvents, Math.max(0, lo - 60_000), hi + 60_000),
          pendingIds: await redis.zrangebyscore(keys.outcomePending, '-inf', '+inf'),
        }));
        const followed = new Set([...read.samples.map((s) => s.decision_id), ...pendingIds]);
        unfollowed = unfollowedDecisions(heat, governor, followed, lo, hi);
        const pairs: [string, number][] = [];
        for (let i = 0; i + 1 < scored.length; i += 2) pairs.push([scored[i]!, Number(scored[i + 1])]);
        pending = pendingFollowUps(pairs, horizons, now);
        if (read.unreadable > 0) io.err(`report outcomes: ${read.unreadable} entries of ${stream} could not be read and are left out\n`);
        // Permitted opens are followed for report calibrate only: they changed nothing.
        samples = read.samples.filter((sample) => !REFERENCE_KINDS.has(sample.kind));
        window = { stream, from, to };
      }
      if (args.values.dump) {
        io.out(dumpOf(samples));
        return ExitCode.ok;
      }
      if (args.values.csv) {
        io.out(formatOutcomesCsv(samples));
        return ExitCode.ok;
      }
      const report = aggregateOutcomes(samples);
      if (args.values.json)
        printJson(io, {
          stream: window.stream,
          from: new Date(window.from).toISOString(),
          to: new Date(window.to).toISOString(),
          ...report,
          ...(pending ? { pending } : {}),
          ...(unfollowed ? { unfollowed } : {}),
        });
      else
        io.out(
          formatOutcomesText(report, window) + (unfollowed ? formatUnfollowed(unfollowed) : '') + (pending ? formatPending(pending) : ''),
        );
      return ExitCode.ok;
    },
  },
  {
    name: 'report shadow',
    summary: 'shadow-compare report of the heat gate (downgrades, heat distribution)',
    help,
    async run(argv, io) {
      const command = 'report shadow';
      const args = parseCommandArgs(command, argv, {
        since: { type: 'string' },
        until: { type: 'string' },
        'bin-width': { type: 'string' },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
        'per-decision': { type: 'boolean' },
      });
      if (args.values.json && args.values.csv) throw new UsageError('choose one of --json and --csv', command);
      if (args.values['per-decision'] && !args.values.json && !args.values.csv)
        throw new UsageError('--per-decision goes with --csv or --json', command);
      const { from, to } = parseWindow(args.values, '24h', io.now(), command);
      const binWidth = args.values['bin-width'] === undefined ? 0.05 : Number(args.values['bin-width']);
      if (!(binWidth > 0 && binWidth <= 1))
        throw new UsageError(`--bin-width must be a number in (0, 1] (got "${args.values['bin-width']}")`, command);

      const stream = io.env.P26_OUTPUT_STREAM?.trim() || streams.harvestCalibrated;
      const entries = await withRedis(io, (redis) => readWindow(redis, stream, Math.floor(from), Math.floor(to)));
      if (args.values['per-decision']) {
        const decisions = shadowDecisions(entries);
        if (args.values.json) printJson(io, { stream, from: new Date(from).toISOString(), to: new Date(to).toISOString(), decisions });
        else io.out(formatDecisionsCsv(decisions));
        return ExitCode.ok;
      }
      const report = aggregateShadow(entries, { binWidth });
      const window = { stream, from, to };
      if (args.values.json) printJson(io, { stream, from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...report });
      else if (args.values.csv) io.out(formatCsv(report, window));
      else io.out(formatText(report, window));
      return ExitCode.ok;
    },
  },
];
