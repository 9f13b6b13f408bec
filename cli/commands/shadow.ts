import { renameSync, writeFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { loadShadowHost, SHADOW_STATE, loadShadowMetrics } from '../../app/cli-door.js';
import { systemClock, type AnyHandler } from '../../runtime/host/index.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import type { Command } from '../command.js';
import { parseDuration } from '../duration.js';
import { OperationalError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { printJson } from '../output.js';
import { withRedis } from '../redis.js';
import { parseHorizons } from '../../handlers/outcomes/horizons.js';
import { streams } from '../../schemas/keys.js';
import { formatShadowReport } from '../shadow/format.js';
import type { PricingSource } from '../shadow/outcome-samples.js';
import { pairRound } from '../shadow/live.js';
import { pythonServices, type PythonReader } from '../shadow/python.js';
import { currentRelease, shadowReport, type Incumbent } from '../shadow/report.js';

const NAME = 'shadow';
const REPORT = 'shadow report';
/** The gates a shadow hosts unless --gate names others: the four that decide. */
const DEFAULT_GATES = ['heat-gate', 'heat-bridge', 'governor', 'risk-budget'];
const DEFAULT_GRACE = '30s';
const PAIR_EVERY_MS = 5_000;
const DEFAULT_PORT = 8079;

const runHelp = [
  'Usage: quantum-gates shadow --beside current|python [--gate NAME]... [--for DURATION [--min-decisions K] [--record FILE]] [--port N]',
  '',
  'Runs gates beside the incumbent on the same Redis, writing nothing the pipeline reads: each gate',
  'reads its stream in a consumer group of its own (<group>:shadow), so it takes no entry from the',
  "incumbent's group, and decides each entry through the engine's one decision function with its",
  'effects recorded, never sent. Everything it writes is under quantum:shadow: (its decisions, its',
  'own idempotency markers, its dead letters, the summary). Every 5 s it pairs its decisions with the',
  "incumbent's by input (the stream id; a budget tick by its schedule period) and counts each pair: the same verdict, a documented",
  'difference (a row of docs/migration.md), or unexplained; an input one side never decided within',
  'the grace is unpaired. `quantum-gates shadow report` shows them; the status page too.',
  '',
  'A start is a fresh comparison: the shadow namespace of the previous run is deleted, and its',
  "groups start at each stream's end. The gates' settings are this command's environment (--env-file:",
  "the release's own units' file).",
  '',
  'Options:',
  '  --beside current  the incumbent: the running quantum-gates release, read from its tape',
  "  --beside python   the incumbent: the Python services, read where upstream's code writes their",
  "                    outputs, paired by plan_id (the governor's permit and block keys, the heat gate's",
  "                    calibrated entries, heat decisions and enforce hash, the bridge's keys, the",
  '                    budget hashes by tick)',
  `  --gate NAME       a gate to shadow (repeatable; stream gates and risk-budget); default: ${DEFAULT_GATES.join(', ')}`,
  `  --grace DURATION  an input one side decided is unpaired this long after it was produced; default ${DEFAULT_GRACE}`,
  '  --for DURATION    stop after DURATION, print the report, exit 0 only when no verdict difference is',
  '                    unexplained and at least --min-decisions inputs were compared (release.sh)',
  '  --min-decisions K with --for: the inputs that must have been compared; default 1',
  "  --record FILE     with --for: the run's counts and whether it passed, as JSON (release.sh: the",
  "                    release's shadow.json, which `release.sh switch` reads)",
  `  --port N          /metrics and /healthz on 127.0.0.1:N (SHADOW_PORT, default ${DEFAULT_PORT}; 0: any free port)`,
  '',
  'Exit: without --for it runs until SIGTERM or SIGINT, then exits 0 once its batches in hand are',
  'recorded (nothing left pending). 2: bad options, a Redis Cluster.',
].join('\n');

const reportHelp = [
  'Usage: quantum-gates shadow report [--json] [--gate NAME]... [--grace DURATION] [--examples N]',
  '',
  "The shadow's decisions paired with the incumbent's, from where the shadow began: per gate how many",
  'inputs were compared, decided the same, differently as docs/migration.md documents (its row',
  'named), or differently with no explanation; then the unexplained ones with both verdicts side by',
  'side and the fields that differ, and the inputs only one side decided. Each verdict difference that',
  'changes exposure (a block or permit of a plan, another calibrated action) is priced where the outcome',
  "follow-ups know what a decision led to: the shadow's own decision's (the follow-ups the shadow runs,",
  "quantum:shadow:outcomes), else the incumbent's (OUTCOME_STREAM), at OUTCOME_HORIZONS: the PnL per",
  'horizon with the 90 % interval `report calibrate` gives, or "not enough independent data".',
  '',
  'Options:',
  '  --json            the report as JSON: compared, same, documented, unexplained, unpaired, waiting,',
  '                    gates, pairs (every one), unpairedInputs and priced',
  '  --gate NAME       only this gate (repeatable)',
  `  --grace DURATION  an input one side decided is unpaired this long after it was produced; default ${DEFAULT_GRACE}`,
  '  --examples N      unexplained pairs and unpaired inputs listed; default 10',
  '',
  'Exit 0 when no verdict difference is unexplained, 1 when one is, 2 when the report could not be read.',
].join('\n');

/** The incumbent named, checked before Redis is touched; made with the connection once there is one. */
function incumbentKind(beside: string | undefined, command: string): 'current' | 'python' {
  if (beside === 'current' || beside === 'python') return beside;
  throw new UsageError('--beside must be current or python', command);
}

function incumbentOf(kind: 'current' | 'python', redis: PythonReader): Incumbent {
  return kind === 'current' ? currentRelease : pythonServices(redis);
}

function duration(value: string | undefined, flag: string, command: string, fallback?: string): number | undefined {
  const text = value ?? fallback;
  if (text === undefined) return undefined;
  // No grace is a grace: an input one side decided is unpaired at once (a report after both stopped).
  const ms = /^0+(ms|s|m|h|d|w)?$/.test(text.trim()) ? 0 : parseDuration(text);
  if (ms === undefined) throw new UsageError(`${flag} must be a duration such as 30s, 15m or 24h (got "${text}")`, command);
  return ms;
}

/** Where the outcome follow-ups' samples are read to price verdict differences: the gates' own settings (docs/outcomes.md). */
function pricingOf(env: Readonly<Record<string, string | undefined>>, command: string): PricingSource {
  try {
    return {
      stream: env.OUTCOME_STREAM?.trim() || streams.gatesOutcome,
      horizons: parseHorizons(env.OUTCOME_HORIZONS?.trim() || '5m,1h,4h'),
    };
  } catch (error) {
    throw new UsageError(`OUTCOME_HORIZONS: ${error instanceof Error ? error.message : String(error)}`, command);
  }
}

async function gatesNamed(names: readonly string[]): Promise<AnyHandler[]> {
  const { allHandlers } = await import('../../handlers/index.js');
  return names.map((name) => {
    const handler = allHandlers.find((h) => h.name === name);
    if (handler === undefined) throw new UsageError(`no gate "${name}" (gates: ${allHandlers.map((h) => h.name).join(', ')})`, NAME);
    if (handler.trigger.kind === 'queue')
      throw new UsageError(`${name} is a job queue's: the shadow hosts stream gates and the budget schedule only`, NAME);
    return handler;
  });
}

/** Resolves on SIGTERM or SIGINT, or after `forMs`; whichever comes first leaves no timer or listener behind. */
async function stopWhen(forMs: number | undefined): Promise<void> {
  const timer = new AbortController();
  let done: () => void = () => undefined;
  const signalled = new Promise<void>((resolve) => (done = resolve));
  process.once('SIGTERM', done);
  process.once('SIGINT', done);
  await Promise.race([signalled, ...(forMs === undefined ? [] : [systemClock.sleep(forMs, timer.signal)])]);
  timer.abort();
  process.off('SIGTERM', done);
  process.off('SIGINT', done);
}

async function runShadow(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(NAME, argv, {
    beside: { type: 'string' },
    gate: { type: 'string', multiple: true },
    grace: { type: 'string' },
    for: { type: 'string' },
    'min-decisions': { type: 'string' },
    port: { type: 'string' },
    record: { type: 'string' },
  });
  if (values.record !== undefined && values.for === undefined)
    throw new UsageError('--record needs --for: a record is of a finished run', NAME);
  const kind = incumbentKind(values.beside, NAME);
  const graceMs = duration(values.grace, '--grace', NAME, DEFAULT_GRACE)!;
  const forMs = duration(values.for, '--for', NAME);
  const minDecisions = positiveInt(NAME, values['min-decisions'], '--min-decisions', 1);
  const port = values.port === undefined ? Number(io.env.SHADOW_PORT ?? DEFAULT_PORT) : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number (0-65535)', NAME);
  const handlers = await gatesNamed(values.gate ?? DEFAULT_GATES);
  const pricing = pricingOf(io.env, NAME);
  return withRedis(io, async (redis) => {
    if (redis instanceof Cluster) throw new UsageError('the shadow runs beside gates on one Redis, not a Redis Cluster', NAME);
    const [{ ShadowHost }, { shadowMetrics, serveShadow }] = await Promise.all([loadShadowHost(), loadShadowMetrics()]);
    const incumbent = incumbentOf(kind, redis);
    const metrics = shadowMetrics();
    const host = new ShadowHost({
      base: redis,
      handlers,
      env: io.env,
      host: systemClock,
      consumer: `shadow-${process.pid}`,
      onDecided: (records) => {
        for (const record of records) metrics.decisions.inc({ gate: record.gate });
      },
      onError: (gate, error) => io.err(`quantum-gates ${NAME}: ${gate} stopped: ${error instanceof Error ? error.message : String(error)}`),
    });
    await host.reset();
    await host.client.hset(SHADOW_STATE, 'incumbent', incumbent.kind);
    const server = await serveShadow(metrics.registry, port, '127.0.0.1');
    host.start();
    io.err(
      `quantum-gates ${NAME}: ${handlers.map((h) => h.name).join(', ')} beside the ${incumbent.kind} incumbent; writes under quantum:shadow: only; /metrics on 127.0.0.1:${server.port}`,
    );
    let pairing = Promise.resolve();
    const pairNow = () =>
      (pairing = pairing.then(async () => {
        try {
          const { unexplained } = await pairRound(host.client, incumbent, metrics, io.now(), graceMs, pricing);
          if (unexplained > 0)
            io.err(`quantum-gates ${NAME}: ${unexplained} unexplained verdict difference(s): quantum-gates shadow report`);
        } catch (error) {
          io.err(`quantum-gates ${NAME}: pairing failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }));
    const stopPairing = systemClock.every(PAIR_EVERY_MS, () => void pairNow());
    await stopWhen(forMs);
    stopPairing();
    await host.stop();
    await pairNow();
    await host.close();
    await server.close();
    if (forMs === undefined) return 0;
    const report = await shadowReport(redis, incumbent, { graceMs: 0, pricing }, io.now());
    io.out(formatShadowReport(report));
    const enough = report.compared >= minDecisions;
    if (!enough)
      io.err(
        `quantum-gates ${NAME}: ${report.compared} inputs compared, fewer than --min-decisions ${minDecisions}: no evidence either way`,
      );
    const passed = report.unexplained === 0 && enough;
    if (values.record !== undefined) {
      const { compared, same, documented, unexplained, unpaired, at } = report;
      const record = {
        at,
        incumbent: kind,
        for_ms: forMs,
        min_decisions: minDecisions,
        compared,
        same,
        documented,
        unexplained,
        unpaired,
        passed,
      };
      // Written whole under another name, then renamed: release.sh never reads half a record.
      writeFileSync(`${values.record}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
      renameSync(`${values.record}.tmp`, values.record);
    }
    return passed ? 0 : 1;
  });
}

async function runReport(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(REPORT, argv, {
    json: { type: 'boolean' },
    gate: { type: 'string', multiple: true },
    grace: { type: 'string' },
    examples: { type: 'string' },
  });
  const graceMs = duration(values.grace, '--grace', REPORT, DEFAULT_GRACE)!;
  const examples = positiveInt(REPORT, values.examples, '--examples', 10);
  const pricing = pricingOf(io.env, REPORT);
  try {
    const report = await withRedis(io, async (redis) => {
      const kind = incumbentKind((await redis.hget(SHADOW_STATE, 'incumbent')) ?? 'current', REPORT);
      return shadowReport(redis, incumbentOf(kind, redis), { gates: values.gate, graceMs, pricing }, io.now());
    });
    if (values.json) printJson(io, report);
    else io.out(formatShadowReport(report, examples));
    return report.unexplained > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new OperationalError(`could not read the shadow's report: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export const shadowCommands: readonly Command[] = [
  {
    name: NAME,
    summary: 'run gates beside the incumbent on live traffic, writing nothing the pipeline reads',
    help: runHelp,
    run: runShadow,
  },
  {
    name: REPORT,
    summary: "the shadow's decisions paired with the incumbent's: same, documented, unexplained",
    help: reportHelp,
    run: runReport,
  },
];
