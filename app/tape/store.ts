import { Counter, Gauge, type Registry } from 'prom-client';
import * as z from 'zod';
import type { AnyHandler, DecisionTape, RedisClient, RootLogger } from '../../runtime/host/index.js';
import { envInt, parseEnv, type Env } from '../../schemas/env.js';
import { promisify } from 'node:util';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { deflateRaw } from 'node:zlib';
import { encodeTapeEntry, entryAsWritten, entryParts, RECORD_FIELD, tapeKey, type TapeRecord } from './format.js';
import { jsonInSlices } from './json-in-slices.js';
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

/** How long a gate's records wait for more to share their entry (ms): a decision is on the tape this much later at most, but for the write. */
const FLUSH_MS = 50;
/** The most records an entry holds: a governor decision is 2-4 KB of JSON (its book once an entry), an entry of 64 a few tens of KB deflated. */
const ENTRY_RECORDS = 64;
/**
 * An entry of more reads and effects than this is written as JSON a slice of PARTS_A_SLICE at a
 * time, a turn of the event loop between slices (app/tape/json-in-slices.ts): the position index's
 * and the budget tick's records over a universe of 2,000 symbols are 800-865 KB of JSON, and
 * stringified at once they held the thread 5-18 ms. A governor or heat-gate entry has a few
 * hundred parts and is stringified at once.
 */
const WHOLE_PARTS = 2_048;
const PARTS_A_SLICE = 256;
/**
 * The most records a gate may have handed to the tape and not yet written, or three of its largest
 * commits if more (one being written, one waiting, the one arriving: a heat-gate commit is a
 * BATCH_SIZE read's 500 records): past it, records are counted in
 * quantum_gates_tape_write_failures_total and dropped. A governor record holds its replies (~10-20
 * KB of heap at 20 held symbols): 1,000 of them are ~15 MB. A drain keeps one commit or two in
 * flight (bench/run.ts's hour: 500 or 1,000 for the heat gate, 128-180 for the governor).
 */
const IN_FLIGHT = 1_000;

/** The tape's batching and its bound (the defaults above; tests make them small). */
export interface TapeLimits {
  readonly flushMs?: number;
  readonly entryRecords?: number;
  readonly inFlight?: number;
}

/** A gate's records not yet on its tape. */
interface GateQueue {
  /** Handed over, not yet in an entry. */
  readonly waiting: TapeRecord[];
  /** In the entry being deflated and appended. */
  writing: number;
  /** That entry's write, settled (never rejects) when it is appended or counted as failed. */
  written: Promise<void> | undefined;
  /** When `waiting` is written if no more come. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The most records one commit of the gate has handed over. */
  largestCommit: number;
}

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
export function redisTape(env: Env, hosted: readonly string[] = [], limits: TapeLimits = {}) {
  const { TAPE_MAXLEN: maxLen, TAPE_MAXBYTES: maxBytes } = parseTapeSettings(env);
  const { flushMs = FLUSH_MS, entryRecords = ENTRY_RECORDS, inFlight = IN_FLIGHT } = limits;
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
    const failed = (gate: string, error: unknown, decisions = 1) => {
      failures.inc({ handler: gate }, decisions);
      // One line that never changes: the logger's repeat window throttles a tape that keeps failing.
      logger.warn(
        { handler: gate, err: error instanceof Error ? error.message : String(error) },
        'a decision could not be taped; it stands',
      );
    };
    // Each gate's records wait here for their entry: the commits of up to `limits.flushMs` (a
    // stop or `limits.entryRecords` records write it sooner), encoded together (encodeTapeEntry:
    // a read a record repeats from the one before it, the governor's book, is one number), then
    // deflated on libuv's threads and appended, one entry of a gate at a time, in commit order.
    // Nothing of it runs between a decision and its commit: a commit only hands its records over.
    // A deflate and an XADD per commit cost the governor's drain a third of its CPU
    // (bench/tape-cost.ts); one per entry of many commits costs little.
    const queues = new Map<string, GateQueue>();
    const queueOf = (gate: string): GateQueue => {
      let queue = queues.get(gate);
      if (queue === undefined) {
        queue = { waiting: [], writing: 0, written: undefined, timer: undefined, largestCommit: 0 };
        queues.set(gate, queue);
      }
      return queue;
    };
    // Entries hold many decisions each: the stream is trimmed to the entries that hold about
    // TAPE_MAXLEN decisions, as recent entries average.
    const perEntry = new Map<string, number>();
    // And to the entries that fit in TAPE_MAXBYTES: Redis's memory an entry, as recent entries'
    // deflated bodies average times Redis's memory a body byte, as last measured (MEMORY USAGE over
    // XLEN and that average, every MEASURE_EVERY appends), else 1.3 (a stream node holds at most
    // 4 KB: an entry of more is a node of its own, 1.2-1.3 times its body). By the byte, not the
    // entry: an entry holds as many records as waited, so entries grow with the load.
    const measured = new Map<string, { perBodyByte: number; meanBody: number | undefined; appends: number }>();
    const measure = (gate: string) => {
      const size = measured.get(gate)!;
      const meanBody = size.meanBody;
      void Promise.all([redis.memory('USAGE', tapeKey(gate)), redis.xlen(tapeKey(gate))]).then(
        ([bytes, length]) => {
          if (Number(length) > 0 && meanBody !== undefined && meanBody > 0) size.perBodyByte = Number(bytes) / Number(length) / meanBody;
        },
        () => undefined, // measured again after the next MEASURE_EVERY appends
      );
    };
    /** Before the gate's first records of this process: a record never names settings the tape lacks. */
    const settingsWritten = (gate: string): Promise<void> | undefined => {
      const own = settings.get(gate);
      if (own === undefined || own.written) return undefined;
      return redis.hset(settingsKey(gate), own.digest, own.json).then(
        () => {
          own.written = true;
        },
        // Tried again with the next entry; its records meanwhile name settings a rehearsal may not find (it says so).
        (error: unknown) =>
          logger.warn(
            { handler: gate, err: error instanceof Error ? error.message : String(error) },
            "a gate's settings could not be taped",
          ),
      );
    };
    /** Appends one entry's deflated records; a refusal is counted against them. */
    const append = (gate: string, records: readonly TapeRecord[], body: Buffer, mean: number) => {
      const size = measured.get(gate)!;
      size.meanBody = 0.9 * (size.meanBody ?? body.length) + 0.1 * body.length;
      const entries = entriesKept(maxLen, maxBytes, mean, size.perBodyByte * size.meanBody + 128);
      return redis.xadd(tapeKey(gate), 'MAXLEN', '~', entries, '*', RECORD_FIELD, body).then(
        () => {
          if (size.appends++ % MEASURE_EVERY === 0) measure(gate);
        },
        (error: unknown) => failed(gate, error, records.length),
      );
    };
    /**
     * Writes every record that waits, in entries of `entryRecords`: each entry deflated at once
     * (libuv's threads deflate them side by side) and appended as soon as it and those before it
     * are, without waiting for the reply before sending the next (one connection keeps them in
     * order). Then the records that came meanwhile, the same way. A cycle takes all that waits, not
     * one entry: a busy thread decides a whole batch between a cycle's steps, and an entry of 64 a
     * cycle cannot keep pace with a drain's commits of 500.
     */
    const write = (gate: string, queue: GateQueue): void => {
      if (queue.timer !== undefined) clearTimeout(queue.timer);
      queue.timer = undefined;
      const records = queue.waiting.splice(0);
      if (records.length === 0) return;
      queue.writing = records.length;
      const entries: TapeRecord[][] = [];
      for (let at = 0; at < records.length; at += entryRecords) entries.push(records.slice(at, at + entryRecords));
      if (!measured.has(gate)) measured.set(gate, { perBodyByte: 1.3, meanBody: undefined, appends: 0 });
      // Settled in a later tick whatever happens (even an encoding that throws): `written` is set first.
      queue.written = Promise.resolve()
        .then(async () => {
          const bodies: Promise<Buffer>[] = [];
          for (const entry of entries) {
            const json =
              entryParts(entry) > WHOLE_PARTS
                ? await jsonInSlices(entryAsWritten(entry), () => nextTurn(), PARTS_A_SLICE, 4)
                : encodeTapeEntry(entry);
            const body = deflate(json, { level: 6 });
            body.catch(() => undefined); // counted below, in order
            bodies.push(body);
          }
          await settingsWritten(gate);
          const appends: Promise<void>[] = [];
          for (const [at, entry] of entries.entries()) {
            const mean = 0.9 * (perEntry.get(gate) ?? entry.length) + 0.1 * entry.length;
            perEntry.set(gate, mean);
            let body: Buffer;
            try {
              body = await bodies[at]!;
            } catch (error) {
              failed(gate, error, entry.length);
              continue;
            }
            appends.push(append(gate, entry, body, mean));
          }
          await Promise.all(appends);
        })
        .catch((error: unknown) => failed(gate, error, records.length))
        .then(() => {
          queue.writing = 0;
          queue.written = undefined;
          if (queue.waiting.length >= entryRecords) write(gate, queue);
          else if (queue.waiting.length > 0) queue.timer = setTimeout(() => write(gate, queue), flushMs).unref();
        });
    };
    const sink = (gate: string, records: readonly TapeRecord[]) => {
      gates.add(gate);
      const queue = queueOf(gate);
      // Bounded: a Redis that takes the tape's writes slower than the gate decides (or not at all)
      // would otherwise hold every record in this process's memory. Past the bound, records are
      // counted as not taped and dropped; the decisions stand.
      queue.largestCommit = Math.max(queue.largestCommit, records.length);
      const bound = Math.max(inFlight, 3 * queue.largestCommit);
      if (queue.waiting.length + queue.writing + records.length > bound) {
        // One line that never changes, as every tape failure's (the logger's repeat window throttles it).
        failed(gate, new Error(`the tape is behind: ${bound} records not yet written`), records.length);
        return;
      }
      queue.waiting.push(...records);
      if (queue.written !== undefined) return; // written by the cycle after the one in hand
      if (queue.waiting.length >= entryRecords) write(gate, queue);
      else queue.timer ??= setTimeout(() => write(gate, queue), flushMs).unref();
    };
    /** Every record handed over so far written (or counted as failed). */
    const flushed = async () => {
      for (;;) {
        const busy = [...queues].filter(([, q]) => q.written !== undefined || q.waiting.length > 0);
        if (busy.length === 0) return;
        for (const [gate, queue] of busy) if (queue.written === undefined) write(gate, queue);
        await Promise.all(busy.map(([, q]) => q.written));
      }
    };
    return { ...decisionTape(sink, failed, (gate) => settings.get(gate)?.digest), flushed };
  };
}
