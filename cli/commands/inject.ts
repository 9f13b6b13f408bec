import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import { applyPlanSchema } from '../../schemas/apply-plan.js';
import { injectedProposalSchema } from '../../schemas/harvest-proposal.js';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import type { AnyHandler, StreamTrigger } from '../../runtime/host/index.js';
import { didYouMean } from '../../app/cli-door.js';
import { keys } from '../../schemas/keys.js';
import { portfolioStateSchema } from '../../schemas/portfolio-state.js';
import { positionSnapshotSchema } from '../../schemas/position-snapshot.js';
import { marketStateSchema } from '../../schemas/market-state.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { printJson } from '../output.js';
import { withRedisWrite } from '../write-target.js';

interface FieldFlag {
  readonly flag: string;
  readonly field: string;
  readonly help: string;
}

type Target =
  /**
   * An entry on a gate's input stream, named as the gate's own configuration names it (so an
   * override the gate honours moves the injection too); envVar is that override, for the help.
   */
  | { readonly kind: 'stream'; readonly gate: AnyHandler; readonly envVar: string }
  /** A hash; `key` may depend on the fields (a per-symbol hash), `keyPattern` says which for the help. */
  | {
      readonly kind: 'hash';
      readonly key: string | ((fields: Record<string, string>) => string);
      readonly keyPattern?: string;
      /** Fields that only name the key (the symbol of a per-symbol hash): not written into it. */
      readonly keyOnly?: readonly string[];
    };

/** The input stream of a stream-triggered gate under `env`, as the gate itself resolves it. */
export function gateStream(gate: AnyHandler, env: Readonly<Record<string, string | undefined>>): string {
  const trigger = gate.trigger as StreamTrigger<unknown>;
  return trigger.stream(gate.config(env));
}

interface InjectKind {
  readonly name: string;
  readonly summary: string;
  readonly schema: z.ZodType;
  readonly target: Target;
  readonly fields: readonly FieldFlag[];
  /** Fields filled in when not given; returns the names it generated, to tell the operator. */
  readonly defaults?: (fields: Record<string, string>, io: CliIo) => string[];
  /** What the schema lets through but an operator almost surely mistyped: problem lines, none when fine. */
  readonly check?: (fields: Record<string, string>, switches: ReadonlySet<string>) => string[];
  /** Boolean flags of this kind (e.g. --any-action), handed to `check`. */
  readonly switches?: readonly { readonly flag: string; readonly help: string }[];
  readonly example: string;
}

/**
 * The actions proposers write: the Harvest Kernel's (NONE, PARTIAL_25/50/75, FULL_CLOSE_PROPOSED)
 * and the seeds' FULL_CLOSE. The gate passes any other through unchanged, so the schema accepts
 * it; typed by hand it is far more likely a slip (FULL_CLOS) than an intent.
 */
const PROPOSED_ACTIONS = ['FULL_CLOSE', 'FULL_CLOSE_PROPOSED', 'PARTIAL_25', 'PARTIAL_50', 'PARTIAL_75', 'NONE'] as const;

function checkProposedAction(fields: Record<string, string>, switches: ReadonlySet<string>): string[] {
  if (switches.has('any-action')) return [];
  return (['action', 'harvest_action'] as const).flatMap((field) => {
    const value = fields[field];
    if (value === undefined || (PROPOSED_ACTIONS as readonly string[]).includes(value)) return [];
    const flag = field === 'action' ? '--action' : '--harvest-action';
    return [
      `  ${flag}: "${value}" is no action a proposer writes (${PROPOSED_ACTIONS.join(', ')})${didYouMean(value, PROPOSED_ACTIONS)}; --any-action sends it anyway`,
    ];
  });
}

const planId: FieldFlag = { flag: 'plan-id', field: 'plan_id', help: 'plan id (a UUID is generated and printed when omitted)' };
const symbol: FieldFlag = { flag: 'symbol', field: 'symbol', help: 'exchange symbol, e.g. ETHUSDT (required)' };
const traceId: FieldFlag = { flag: 'trace-id', field: 'trace_id', help: 'trace id carried to every output' };
const reason: FieldFlag = { flag: 'reason', field: 'reason', help: 'free-text reason, e.g. tp_hit' };

const generatePlanId = (fields: Record<string, string>): string[] => {
  if (fields.plan_id !== undefined) return [];
  fields.plan_id = randomUUID();
  return ['plan_id'];
};

export const injectKinds: readonly InjectKind[] = [
  {
    name: 'proposal',
    summary: 'add a harvest proposal for the heat gate (P2.6)',
    schema: injectedProposalSchema,
    target: { kind: 'stream', gate: heatGate, envVar: 'P26_INPUT_STREAM' },
    fields: [
      symbol,
      { flag: 'action', field: 'action', help: 'proposed action, e.g. FULL_CLOSE or PARTIAL_50 (this or --harvest-action is required)' },
      { flag: 'harvest-action', field: 'harvest_action', help: 'the action under its older field name, as some producers write it' },
      planId,
      traceId,
      reason,
    ],
    defaults: generatePlanId,
    check: checkProposedAction,
    switches: [{ flag: 'any-action', help: 'send an action no proposer writes (the gate passes it through unchanged)' }],
    example: 'quantum-gates inject proposal --symbol ETHUSDT --action FULL_CLOSE --plan-id test1',
  },
  {
    name: 'plan',
    summary: 'add an apply plan for the governor (P3.2)',
    schema: applyPlanSchema,
    target: { kind: 'stream', gate: governor, envVar: 'STREAM_PLANS' },
    fields: [
      symbol,
      { flag: 'action', field: 'action', help: 'plan action, e.g. FULL_CLOSE_PROPOSED, PARTIAL_75 or an open' },
      planId,
      { flag: 'decision', field: 'decision', help: 'default EXECUTE: the governor skips any other decision' },
      { flag: 'kill-score', field: 'kill_score', help: 'kill score 0..1 (opens are blocked at GOV_KILL_SCORE_CRITICAL)' },
      { flag: 'side', field: 'side', help: 'BUY or SELL' },
      { flag: 'qty', field: 'qty', help: 'quantity (notional per trade = qty × price)' },
      { flag: 'reduce-only', field: 'reduceOnly', help: 'true or false: true makes the plan a close that bypasses fund caps' },
      { flag: 'price', field: 'price', help: 'price used for the notional per trade' },
      { flag: 'notional', field: 'notional', help: 'notional in USDT, when the producer states it' },
      traceId,
      reason,
    ],
    defaults: (fields) => {
      const generated = generatePlanId(fields);
      if (fields.decision === undefined) {
        fields.decision = 'EXECUTE';
        generated.push('decision');
      }
      return generated;
    },
    example: 'quantum-gates inject plan --symbol BTCUSDT --action OPEN --qty 0.001 --price 100000',
  },
  {
    name: 'snapshot',
    summary: "add a position snapshot (the input of every gate's heat and notional)",
    schema: positionSnapshotSchema,
    target: { kind: 'stream', gate: positionSnapshot, envVar: 'POSITION_SNAPSHOT_STREAM' },
    fields: [
      symbol,
      {
        flag: 'position-notional-usd',
        field: 'position_notional_usd',
        help: 'position notional in USD; 0 closes the position (required unless --qty and --mark-price are given: notional = |qty| × mark, signed by --side)',
      },
      { flag: 'sigma', field: 'sigma', help: 'volatility used by the heat formula' },
      { flag: 'volatility', field: 'volatility', help: 'volatility under its alternative field name' },
      { flag: 'qty', field: 'qty', help: 'position quantity' },
      { flag: 'mark-price', field: 'mark_price', help: 'mark price' },
      { flag: 'side', field: 'side', help: 'LONG or SHORT' },
    ],
    example: 'quantum-gates inject snapshot --symbol ETHUSDT --position-notional-usd 1800 --sigma 0.15',
  },
  {
    name: 'portfolio',
    summary: `set the portfolio state hash (${keys.portfolioState})`,
    schema: portfolioStateSchema,
    target: { kind: 'hash', key: keys.portfolioState },
    fields: [
      { flag: 'equity-usd', field: 'equity_usd', help: 'portfolio equity in USD (required)' },
      { flag: 'drawdown', field: 'drawdown', help: 'current drawdown' },
      { flag: 'timestamp', field: 'timestamp', help: 'epoch seconds of the state; default now (set it in the past to test stale state)' },
    ],
    defaults: (fields, io) => {
      if (fields.timestamp !== undefined) return [];
      fields.timestamp = String(Math.floor(io.now() / 1000));
      return ['timestamp'];
    },
    example: 'quantum-gates inject portfolio --equity-usd 10000',
  },
  {
    name: 'market',
    summary: `set a symbol's market state (${keys.marketState('{symbol}')}): the mark price the governor prices opens at`,
    schema: marketStateSchema,
    target: {
      kind: 'hash',
      key: (fields) => keys.marketState(fields.symbol!),
      keyPattern: keys.marketState('{symbol}'),
      keyOnly: ['symbol'],
    },
    fields: [
      symbol,
      { flag: 'mark-price', field: 'mark_price', help: 'mark price (required)' },
      { flag: 'sigma', field: 'sigma', help: 'volatility the budget engine reads' },
      { flag: 'vol-regime', field: 'vol_regime', help: 'volatility regime label, e.g. HIGH_VOL' },
    ],
    example: 'quantum-gates inject market --symbol BTCUSDT --mark-price 100000',
  },
];

function helpFor(kind: InjectKind): string {
  const width = Math.max(...kind.fields.map((f) => f.flag.length), 'field name=value'.length) + 4;
  const target =
    kind.target.kind === 'stream'
      ? `XADD to ${gateStream(kind.target.gate, {})} (or $${kind.target.envVar})`
      : `HSET ${kind.target.keyPattern ?? (typeof kind.target.key === 'string' ? kind.target.key : '')}`;
  return [
    `Usage: quantum-gates inject ${kind.name} [options]`,
    '',
    `${kind.summary[0]!.toUpperCase()}${kind.summary.slice(1)}: ${target}.`,
    'The fields are validated with the same schema the gate uses before anything is written.',
    '',
    'Options:',
    ...kind.fields.map((f) => `  --${f.flag.padEnd(width - 2)}${f.help}`),
    `  --${'field name=value'.padEnd(width - 2)}any other field, repeatable (carried through by the gates)`,
    ...(kind.switches ?? []).map((s) => `  --${s.flag.padEnd(width - 2)}${s.help}`),
    ...(kind.target.kind === 'stream'
      ? [
          `  --${'unchecked'.padEnd(width - 2)}write the fields as given, not validated: the gate dead-letters what its`,
          `  ${''.padEnd(width)}schema refuses (invalid_input), the dead-letter drill of docs/operations.md §5`,
        ]
      : []),
    `  --${'json'.padEnd(width - 2)}print {${kind.target.kind === 'stream' ? 'stream, id' : 'key'}, fields} as JSON`,
    '',
    'Example:',
    `  ${kind.example}`,
  ].join('\n');
}

function collectFields(kind: InjectKind, values: Record<string, unknown>, command: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const f of kind.fields) {
    const value = values[f.flag];
    if (typeof value === 'string') fields[f.field] = value;
  }
  for (const pair of (values.field as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--field expects name=value (got "${pair}")`, command);
    const name = pair.slice(0, eq);
    const own = kind.fields.find((f) => f.field === name);
    if (own) throw new UsageError(`use --${own.flag} for the field ${name}`, command);
    fields[name] = pair.slice(eq + 1);
  }
  return fields;
}

/** Turns zod issues into lines that name the flag to fix. */
function describeIssues(kind: InjectKind, error: z.ZodError, fields: Record<string, string>): string {
  return error.issues
    .map((issue) => {
      const field = String(issue.path[0] ?? '');
      const flag = kind.fields.find((f) => f.field === field)?.flag;
      const name = flag ? `--${flag}` : field ? `field ${field}` : 'input';
      const given = fields[field];
      const message = given === undefined && issue.code === 'invalid_type' ? 'is required' : issue.message;
      return `  ${name}: ${message}${given === undefined ? '' : ` (got "${given}")`}`;
    })
    .join('\n');
}

function injectCommand(kind: InjectKind): Command {
  const name = `inject ${kind.name}`;
  const help = helpFor(kind);
  return {
    name,
    summary: kind.summary,
    help,
    async run(argv, io) {
      const options = Object.fromEntries([
        ...kind.fields.map((f) => [f.flag, { type: 'string' as const }]),
        ['field', { type: 'string' as const, multiple: true }],
        ['json', { type: 'boolean' as const }],
        ...(kind.switches ?? []).map((s) => [s.flag, { type: 'boolean' as const }]),
        ...(kind.target.kind === 'stream' ? [['unchecked', { type: 'boolean' as const }]] : []),
      ]);
      const args = parseCommandArgs(name, argv, options);
      const collected = collectFields(kind, args.values, name);
      const generated = kind.defaults?.(collected, io) ?? [];
      // The gate's own fields first, in the order of its flags; extras after.
      const order = kind.fields.map((f) => f.field);
      const fields = Object.fromEntries(Object.entries(collected).sort(([a], [b]) => rankOf(order, a) - rankOf(order, b)));
      const parsed = kind.schema.safeParse(fields);
      if (args.values.unchecked === true) {
        // A message the gate refuses, on purpose: it becomes a dead letter (invalid_input) to see,
        // replay or drop. Said before it is written, so nobody takes it for a slip.
        io.err(
          parsed.success
            ? `quantum-gates ${name}: --unchecked: written without validation, though the ${kind.name} is valid: the gate processes it as any other`
            : `quantum-gates ${name}: --unchecked: written without validation; the gate will dead-letter it (invalid_input):\n${describeIssues(kind, parsed.error, fields)}`,
        );
      } else {
        if (!parsed.success) throw new UsageError(`invalid ${kind.name}:\n${describeIssues(kind, parsed.error, fields)}`, name);
        const switches = new Set((kind.switches ?? []).filter((s) => args.values[s.flag] === true).map((s) => s.flag));
        const slips = kind.check?.(fields, switches) ?? [];
        if (slips.length > 0) throw new UsageError(`invalid ${kind.name}:\n${slips.join('\n')}`, name);
      }

      const json = args.values.json === true;
      const target = kind.target;
      if (target.kind === 'stream') {
        const stream = gateStream(target.gate, io.env);
        const id = await withRedisWrite(io, (redis) => redis.xadd(stream, '*', ...Object.entries(fields).flat()));
        if (json) printJson(io, { stream, id, fields, generated });
        else
          printResult(
            io,
            [
              ['stream', stream],
              ['id', id ?? ''],
            ],
            fields,
            generated,
          );
      } else {
        const key = typeof target.key === 'string' ? target.key : target.key(fields);
        const written = Object.fromEntries(Object.entries(fields).filter(([field]) => !target.keyOnly?.includes(field)));
        await withRedisWrite(io, (redis) => redis.hset(key, written));
        if (json) printJson(io, { key, fields: written, generated });
        else printResult(io, [['key', key]], written, generated);
      }
      return ExitCode.ok;
    },
  };
}

function rankOf(order: readonly string[], field: string): number {
  const i = order.indexOf(field);
  return i === -1 ? order.length : i;
}

function printResult(io: CliIo, head: [string, string][], fields: Record<string, string>, generated: readonly string[]): void {
  const rows: [string, string][] = [
    ...head,
    ...Object.entries(fields).map(([k, v]): [string, string] => [k, generated.includes(k) ? `${v}  (generated)` : v]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  io.out(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
}

export const injectCommands: readonly Command[] = injectKinds.map(injectCommand);
