import { Counter, Gauge, type Registry } from 'prom-client';
import * as z from 'zod';
import type { AnyHandler, DecisionTape, RedisClient, RootLogger } from '../../runtime/host/index.js';
import { envInt, parseEnv, type Env } from '../../schemas/env.js';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { RECORD_FIELD, tapeKey, type TapeRecord } from './format.js';
import { decisionTape } from './recorder.js';
import { settingsDigest, settingsKey, tapedSettings } from './settings.js';

const deflate = promisify(deflateRaw);

/**
 * TAPE_MAXLEN: the decisions each gate's tape keeps (0: no tape). The default holds a day and a
 * half of the default pipeline's busiest gate (the governor, 0.6 plans/s: 51,840 a day).
 * TAPE_MAXBYTES: the Redis memory each gate's tape keeps at most, whichever bound is reached
 * first. A governor decision tapes about 3 KB at 10 held symbols and 15 KB at 300 (it reads the
 * whole book: bench/tape-size.ts), so 80,000 of them would be 240 MiB or 1.2 GiB: the default
 * (256 MiB) leaves a small book's tape to the count and bounds a large book's at about 17,000.
 */
export const tapeSettings = z.object({ TAPE_MAXLEN: envInt(80_000), TAPE_MAXBYTES: envInt(256 * 2 ** 20) });

/** How often (appends of a gate) its tape's memory an entry is measured (MEMORY USAGE over XLEN). */
const MEASURE_EVERY = 256;

/**
 * The entries a gate's tape keeps: as many as hold about `maxLen` decisions at `recordsPerEntry`,
 * and no more than fit in `maxBytes` at `bytesPerEntry` (Redis's memory an entry); at least one.
 */
export function entriesKept(maxLen: number, maxBytes: number, recordsPerEntry: number, bytesPerEntry: number): number {
  const byCount = maxLen / recordsPerEntry;
  const byBytes = maxBytes > 0 ? maxBytes / bytesPerEntry : Infinity;
  return Math.max(1, Math.ceil(Math.min(byCount, byBytes)));
}
export const parseTapeSettings = (env: Env) => parseEnv(tapeSettings, env);

/**
 * The tape kept in Redis, a stream per gate trimmed (approximately) to TAPE_MAXLEN by the XADD
 * that appends to it. A decision never waits for its record: a refused write is counted and
 * logged, the decision standing as committed. A stop waits for the writes in hand (`flushed`).
 */
/** `hosted`: the gates whose tape sizes /metrics reports from the start, before they decide anything (a tape outlives a restart). */
export function redisTape(env: Env, hosted: readonly string[] = []) {
  const { TAPE_MAXLEN: maxLen, TAPE_MAXBYTES: maxBytes } = parseTapeSettings(env);
  if (maxLen === 0) return undefined;
  return (
    redis: RedisClient,
    registry: Registry,
    logger: RootLogger,
    running: readonly { readonly handler: AnyHandler; readonly config: unknown }[] = [],
  ): DecisionTape => {
    // Each gate's settings (the variables its parser read, as set, secrets left out, and what it
    // made of them), kept once per environment in a small hash and named by digest on each record.
    const settings = new Map(
      running.map(({ handler, config }) => {
        const taped = tapedSettings((e) => handler.config(e), config, env);
        return [handler.name, { digest: settingsDigest(taped), json: JSON.stringify(taped), written: false }];
      }),
    ) as Map<string, { readonly digest: string; readonly json: string; written: boolean }>;
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
      help: "Entries on each gate's tape (a commit's decisions each)",
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
    const failed = (gate: string, error: unknown, decisions = 1) => {
      failures.inc({ handler: gate }, decisions);
      // One line that never changes: the logger's repeat window throttles a tape that keeps failing.
      logger.warn(
        { handler: gate, err: error instanceof Error ? error.message : String(error) },
        'a decision could not be taped; it stands',
      );
    };
    // One entry per commit: its decisions' records deflated together (a quarter to a third of the
    // JSON), on libuv's threads rather than the gates' event loop. A deflate per decision halved
    // the governor's backlog throughput (bench/tape-cost.ts); one per commit of up to BATCH_SIZE
    // costs little. Appended in commit order, whichever deflate ends first.
    const appended = new Map<string, Promise<void>>();
    // Entries hold a commit's decisions each: the stream is trimmed to the entries that hold about
    // TAPE_MAXLEN decisions, as recent commits average (one a commit at the default pipeline's rates).
    const perEntry = new Map<string, number>();
    // And to the entries that fit in TAPE_MAXBYTES: Redis's memory an entry, as last measured
    // (MEMORY USAGE over XLEN, every MEASURE_EVERY appends), else estimated from the deflated body
    // (a stream node holds at most 4 KB: a governor entry is a node of its own, 1.2-1.3 times its body).
    const measured = new Map<string, { bytesPerEntry: number | undefined; appends: number }>();
    const measure = (gate: string) => {
      const size = measured.get(gate)!;
      void Promise.all([redis.memory('USAGE', tapeKey(gate)), redis.xlen(tapeKey(gate))]).then(
        ([bytes, length]) => {
          if (Number(length) > 0) size.bytesPerEntry = Number(bytes) / Number(length);
        },
        () => undefined, // measured again after the next MEASURE_EVERY appends
      );
    };
    const sink = (gate: string, records: readonly TapeRecord[]) => {
      gates.add(gate);
      const mean = 0.99 * (perEntry.get(gate) ?? records.length) + 0.01 * records.length;
      perEntry.set(gate, mean);
      const size = measured.get(gate) ?? { bytesPerEntry: undefined, appends: 0 };
      measured.set(gate, size);
      const deflated = deflate(JSON.stringify(records), { level: 6 });
      const own = settings.get(gate);
      // Before the gate's first records of this process: a record never names settings the tape lacks.
      const settled =
        own === undefined || own.written
          ? undefined
          : redis.hset(settingsKey(gate), own.digest, own.json).then(
              () => {
                own.written = true;
              },
              // Tried again with the next commit; its records meanwhile name settings a rehearsal may not find (it says so).
              (error: unknown) =>
                logger.warn(
                  { handler: gate, err: error instanceof Error ? error.message : String(error) },
                  "a gate's settings could not be taped",
                ),
            );
      const next = (appended.get(gate) ?? Promise.resolve())
        .then(() => settled)
        .then(() => deflated)
        .then((body) => {
          const entries = entriesKept(maxLen, maxBytes, mean, size.bytesPerEntry ?? 1.3 * body.length + 128);
          return redis.xadd(tapeKey(gate), 'MAXLEN', '~', entries, '*', RECORD_FIELD, body);
        })
        .then(
          () => {
            if (size.appends++ % MEASURE_EVERY === 0) measure(gate);
          },
          (error: unknown) => failed(gate, error, records.length),
        );
      appended.set(gate, next);
    };
    const flushed = async () => {
      await Promise.all(appended.values());
    };
    return { ...decisionTape(sink, failed, (gate) => settings.get(gate)?.digest), flushed };
  };
}
