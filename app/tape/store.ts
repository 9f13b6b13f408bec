import { Counter, Gauge, type Registry } from 'prom-client';
import * as z from 'zod';
import {
  systemClock,
  type AnyHandler,
  type Clock,
  type DecisionTape,
  type RedisClient,
  type RootLogger,
} from '../../runtime/host/index.js';
import { envInt, parseEnv, type Env } from '../../schemas/env.js';
import { tapeKey } from './format.js';
import { GateTapeWriter } from './gate-writer.js';
import { decisionTape } from './recorder.js';
import { settingsDigest, tapedSettings } from './settings.js';

export { entriesKept } from './gate-writer.js';

/**
 * TAPE_MAXLEN: the decisions each gate's tape keeps (0: no tape). The default holds a day and a
 * half of the default pipeline's busiest gate (the governor, 0.6 plans/s: 51,840 a day).
 * TAPE_MAXBYTES: the Redis memory each gate's tape keeps at most, whichever bound is reached
 * first. A governor decision an entry of its own tapes about 2 KB at 10 or 300 held symbols and
 * 6 KB at 1,000 (what its book read changed since the record before: bench/tape-size.ts), so
 * 80,000 of them would be 180 MiB or 470 MiB: the default (256 MiB) leaves a small book's tape to
 * the count and bounds one of 1,000 held at about 44,000.
 */
export const tapeSettings = z.object({ TAPE_MAXLEN: envInt(80_000), TAPE_MAXBYTES: envInt(256 * 2 ** 20) });

/** How long a gate's records wait for more to share their entry (ms): a decision is on the tape this much later at most, but for the write. */
const FLUSH_MS = 50;
/** The most records an entry holds: a governor decision is 2-4 KB of JSON (its book once an entry), an entry of 64 a few tens of KB deflated. */
const ENTRY_RECORDS = 64;
/**
 * The most records a gate may have handed to the tape and not yet written, or three of its largest
 * commits if more (gate-writer.ts): a heat-gate commit is a BATCH_SIZE read's 500 records. A
 * governor record holds its replies (~10-20 KB of heap at 20 held symbols): 1,000 of them are
 * ~15 MB. A drain keeps one commit or two in flight (bench/run.ts's hour: 500 or 1,000 for the heat
 * gate, 128-180 for the governor).
 */
const IN_FLIGHT = 1_000;

/** The tape's batching and its bound (the defaults above; tests make them small). */
export interface TapeLimits {
  readonly flushMs?: number;
  readonly entryRecords?: number;
  readonly inFlight?: number;
}

export const parseTapeSettings = (env: Env) => parseEnv(tapeSettings, env);

/**
 * The tape kept in Redis, a stream per gate trimmed (approximately) to TAPE_MAXLEN by the XADD
 * that appends to it, each written by its gate's writer (gate-writer.ts) on the injected clock. A
 * decision never waits for its record: a refused write is counted and logged, the decision
 * standing as committed. A stop waits for the writes in hand (`flushed`).
 * `hosted`: the gates whose tape sizes /metrics reports from the start, before they decide anything (a tape outlives a restart).
 */
export function redisTape(env: Env, hosted: readonly string[] = [], limits: TapeLimits = {}) {
  const { TAPE_MAXLEN: maxLen, TAPE_MAXBYTES: maxBytes } = parseTapeSettings(env);
  const { flushMs = FLUSH_MS, entryRecords = ENTRY_RECORDS, inFlight = IN_FLIGHT } = limits;
  if (maxLen === 0) return undefined;
  return (
    redis: RedisClient,
    registry: Registry,
    logger: RootLogger,
    running: readonly { readonly handler: AnyHandler; readonly config: unknown }[] = [],
    clock: Clock = systemClock,
  ): DecisionTape => {
    // Each gate's settings (the variables its parser read, as set, secrets left out, and what it
    // made of them), kept once per environment in a small hash and named by digest on each record.
    const settings = new Map(
      running.map(({ handler, config }) => {
        const taped = tapedSettings((e) => handler.config(e), config, env);
        return [handler.name, { digest: settingsDigest(taped), json: JSON.stringify(taped) }];
      }),
    );
    const failures = new Counter({
      name: 'quantum_gates_tape_write_failures_total',
      help: 'Decision records the tape could not keep (the decisions stand)',
      labelNames: ['handler'],
      registers: [registry],
    });
    const gates = new Set<string>(hosted);
    const sizeOf = (measure: (gate: string) => Promise<unknown>) =>
      async function (this: Gauge<'handler'>) {
        this.reset();
        await Promise.all(
          [...gates].map(async (gate) => {
            const size = Number(await measure(gate).catch(() => NaN));
            if (Number.isFinite(size)) this.set({ handler: gate }, size);
          }),
        );
      };
    new Gauge({
      name: 'quantum_gates_tape_entries',
      help: "Entries on each gate's tape (the decisions of up to 50 ms, at most 64, each)",
      labelNames: ['handler'],
      registers: [registry],
      collect: sizeOf((gate) => redis.xlen(tapeKey(gate))),
    });
    new Gauge({
      name: 'quantum_gates_tape_bytes',
      help: "Memory Redis gives each gate's tape (MEMORY USAGE)",
      labelNames: ['handler'],
      registers: [registry],
      collect: sizeOf((gate) => redis.memory('USAGE', tapeKey(gate))),
    });
    const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
    const failed = (gate: string, error: unknown, decisions = 1) => {
      failures.inc({ handler: gate }, decisions);
      // One line that never changes: the logger's repeat window throttles a tape that keeps failing.
      logger.warn({ handler: gate, err: message(error) }, 'a decision could not be taped; it stands');
    };
    const deps = {
      redis,
      clock,
      maxLen,
      maxBytes,
      flushMs,
      entryRecords,
      inFlight,
      failed,
      settingsRefused: (gate: string, error: unknown) =>
        logger.warn({ handler: gate, err: message(error) }, "a gate's settings could not be taped"),
    };
    const writers = new Map<string, GateTapeWriter>();
    const sink = (gate: string, records: Parameters<GateTapeWriter['add']>[0]) => {
      gates.add(gate);
      let writer = writers.get(gate);
      if (writer === undefined) writers.set(gate, (writer = new GateTapeWriter(gate, deps, settings.get(gate))));
      writer.add(records);
    };
    const flushed = async () => {
      await Promise.all([...writers.values()].map((writer) => writer.flushed()));
    };
    return { ...decisionTape(sink, failed, (gate) => settings.get(gate)?.digest), flushed };
  };
}
