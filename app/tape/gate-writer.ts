import { promisify } from 'node:util';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { deflateRaw } from 'node:zlib';
import type { Clock, RedisClient } from '../../runtime/host/index.js';
import {
  baseAfter,
  encodeTapeEntry,
  entryAsWritten,
  entryParts,
  KEY_ENTRY_EVERY,
  RECORD_FIELD,
  tapeKey,
  type EntryHead,
  type TapeBase,
  type TapeRecord,
} from './format.js';
import { jsonInSlices } from './json-in-slices.js';
import { settingsKey } from './settings.js';

const deflate = promisify(deflateRaw);

/** How often (appends of a gate) its tape's memory an entry is measured (MEMORY USAGE over XLEN). */
const MEASURE_EVERY = 256;
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
 * The entries a gate's tape keeps: as many as hold about `maxLen` decisions at `recordsPerEntry`,
 * and no more than fit in `maxBytes` at `bytesPerEntry` (Redis's memory an entry); at least one.
 */
export function entriesKept(maxLen: number, maxBytes: number, recordsPerEntry: number, bytesPerEntry: number): number {
  const byCount = maxLen / recordsPerEntry;
  const byBytes = maxBytes > 0 ? maxBytes / bytesPerEntry : Infinity;
  return Math.max(1, Math.ceil(Math.min(byCount, byBytes)));
}

/** What every gate's writer shares: the connection, the clock it waits on, the bounds, where failures are counted. */
export interface TapeWriterDeps {
  readonly redis: RedisClient;
  readonly clock: Clock;
  readonly maxLen: number;
  readonly maxBytes: number;
  /** How long records wait for more to share their entry (ms), the most an entry holds, the most a gate may hold unwritten. */
  readonly flushMs: number;
  readonly entryRecords: number;
  readonly inFlight: number;
  /** Counts (and logs) records not kept; never throws. */
  readonly failed: (gate: string, error: unknown, decisions?: number) => void;
  /** Tells of a refused settings write. */
  readonly settingsRefused: (gate: string, error: unknown) => void;
}

/**
 * One gate's tape: its records wait here for their entry, the commits of up to `flushMs` (a stop
 * or `entryRecords` records write it sooner), encoded together and continuing the writer's entry
 * before (encodeTapeEntry: a read a record repeats from the one before it is one number, the book's
 * replies only those that changed; a key entry now and then, format.ts EntryHead), then deflated on libuv's
 * threads and appended, one entry of the gate at a time, in commit order. Nothing of it runs
 * between a decision and its commit: a commit only hands its records over. A deflate and an XADD
 * per commit cost the governor's drain a third of its CPU (bench/tape-cost.ts); one per entry of
 * many commits costs little. Its wait is the injected clock's.
 */
export class GateTapeWriter {
  /** Handed over, not yet in an entry. */
  private readonly waiting: TapeRecord[] = [];
  /** In the entries being deflated and appended. */
  private writing = 0;
  /** Those entries' write, settled (never rejects) when they are appended or counted as failed. */
  private written: Promise<void> | undefined;
  /** Ends the wait for more records (aborted when they are written sooner). */
  private timer: AbortController | undefined;
  /** The most records one commit of the gate has handed over. */
  private largestCommit = 0;
  /** Records an entry, as recent entries average: the stream is trimmed to the entries that hold about TAPE_MAXLEN. */
  private perEntry: number | undefined;
  /**
   * Redis's memory a deflated body byte, as last measured (MEMORY USAGE over XLEN and the bodies'
   * mean, every MEASURE_EVERY appends), else 1.3 (a stream node holds at most 4 KB: an entry of
   * more is a node of its own, 1.2-1.3 times its body). By the byte, not the entry: an entry holds
   * as many records as waited, so entries grow with the load.
   */
  private perBodyByte = 1.3;
  private meanBody: number | undefined;
  private appends = 0;
  private settingsWritten = false;
  /** Names this writer's entries on the gate's tape, which replicas write side by side. */
  private readonly writer = Math.random().toString(36).slice(2, 10);
  /** The number of the next record this writer encodes. */
  private seq = 0;
  /** What the next entry continues from; undefined: it is a key entry (the first, or after a write not made). */
  private base: TapeBase | undefined;
  /** Records since the last key entry, and when it was encoded (the clock's ms). */
  private sinceKey = 0;
  private keyAt = 0;

  constructor(
    readonly gate: string,
    private readonly deps: TapeWriterDeps,
    /** The gate's settings as taped (settings.ts), written once before its first entry of this process. */
    private readonly settings?: { readonly digest: string; readonly json: string },
  ) {}

  /**
   * Takes a commit's records. Bounded: a Redis that takes the tape's writes slower than the gate
   * decides (or not at all) would otherwise hold every record in this process's memory. Past the
   * bound (`inFlight` records, or three of its largest commits if more: one being written, one
   * waiting, the one arriving), records are counted as not taped and dropped; the decisions stand.
   */
  add(records: readonly TapeRecord[]): void {
    this.largestCommit = Math.max(this.largestCommit, records.length);
    const bound = Math.max(this.deps.inFlight, 3 * this.largestCommit);
    if (this.waiting.length + this.writing + records.length > bound) {
      // One line that never changes, as every tape failure's (the logger's repeat window throttles it).
      this.deps.failed(this.gate, new Error(`the tape is behind: ${bound} records not yet written`), records.length);
      return;
    }
    this.waiting.push(...records);
    if (this.written !== undefined) return; // written by the cycle after the one in hand
    if (this.waiting.length >= this.deps.entryRecords) this.write();
    else this.later();
  }

  /** Every record handed over so far written (or counted as failed). */
  async flushed(): Promise<void> {
    while (this.written !== undefined || this.waiting.length > 0) {
      if (this.written === undefined) this.write();
      await this.written;
    }
  }

  /** Writes what waits once `flushMs` has passed on the clock, unless written sooner. */
  private later(): void {
    if (this.timer !== undefined) return;
    const timer = new AbortController();
    this.timer = timer;
    void this.deps.clock.sleep(this.deps.flushMs, timer.signal).then(() => {
      if (!timer.signal.aborted) this.write();
    });
  }

  /**
   * Writes every record that waits, in entries of `entryRecords`: each entry deflated at once
   * (libuv's threads deflate them side by side) and appended as soon as it and those before it
   * are, without waiting for the reply before sending the next (one connection keeps them in
   * order). Then the records that came meanwhile, the same way. A cycle takes all that waits, not
   * one entry: a busy thread decides a whole batch between a cycle's steps, and an entry of 64 a
   * cycle cannot keep pace with a drain's commits of 500.
   */
  private write(): void {
    this.timer?.abort();
    this.timer = undefined;
    const records = this.waiting.splice(0);
    if (records.length === 0) return;
    this.writing = records.length;
    const entries: TapeRecord[][] = [];
    for (let at = 0; at < records.length; at += this.deps.entryRecords) entries.push(records.slice(at, at + this.deps.entryRecords));
    // Settled in a later tick whatever happens (even an encoding that throws): `written` is set first.
    this.written = Promise.resolve()
      .then(() => this.writeEntries(entries))
      .catch((error: unknown) => {
        // What the next entry would continue may not be on the tape.
        this.base = undefined;
        this.deps.failed(this.gate, error, records.length);
      })
      .then(() => {
        this.writing = 0;
        this.written = undefined;
        if (this.waiting.length >= this.deps.entryRecords) this.write();
        else if (this.waiting.length > 0) this.later();
      });
  }

  /** Each entry's head, and the base it continues (format.ts EntryHead): a key entry at the start, after a failure and every KEY_ENTRY_EVERY. */
  private headOf(entry: readonly TapeRecord[]): { head: EntryHead; base: TapeBase | undefined } {
    const now = this.deps.clock.now();
    const continues =
      this.base !== undefined && this.sinceKey + entry.length <= KEY_ENTRY_EVERY.records && now - this.keyAt < KEY_ENTRY_EVERY.ms;
    if (!continues) [this.sinceKey, this.keyAt] = [0, now];
    const made = { head: { writer: this.writer, seq: this.seq, continues }, base: continues ? this.base : undefined };
    this.base = baseAfter(entry, made.base);
    this.seq += entry.length;
    this.sinceKey += entry.length;
    return made;
  }

  private async writeEntries(entries: readonly TapeRecord[][]): Promise<void> {
    const bodies: Promise<Buffer>[] = [];
    const heads: EntryHead[] = [];
    for (const entry of entries) {
      const { head, base } = this.headOf(entry);
      heads.push(head);
      // A turn of the event loop between slices (not a wait: nothing is timed).
      const json =
        entryParts(entry) > WHOLE_PARTS
          ? await jsonInSlices(entryAsWritten(entry, head, base), () => nextTurn(), PARTS_A_SLICE, 5)
          : encodeTapeEntry(entry, head, base);
      const body = deflate(json, { level: 6 });
      body.catch(() => undefined); // counted below, in order
      bodies.push(body);
    }
    await this.writeSettings();
    const appends: Promise<boolean>[] = [];
    for (const [at, entry] of entries.entries()) {
      const mean = 0.9 * (this.perEntry ?? entry.length) + 0.1 * entry.length;
      this.perEntry = mean;
      let body: Buffer;
      try {
        body = await bodies[at]!;
      } catch (error) {
        this.deps.failed(this.gate, error, entry.length);
        appends.push(Promise.resolve(false));
        continue;
      }
      appends.push(this.append(entry, body, mean));
    }
    // An entry continuing one that is not on the tape (or that continues such a one) does not decode:
    // counted with it, up to a key entry; if the last does not decode, the next entry is a key entry.
    let broken = false;
    for (const [at, taped] of (await Promise.all(appends)).entries()) {
      if (!taped) broken = true;
      else if (!heads[at]!.continues) broken = false;
      else if (broken) this.deps.failed(this.gate, new Error('its entry continues one that could not be taped'), entries[at]!.length);
    }
    if (broken) this.base = undefined;
  }

  /** Before the gate's first records of this process: a record never names settings the tape lacks. */
  private async writeSettings(): Promise<void> {
    if (this.settings === undefined || this.settingsWritten) return;
    try {
      await this.deps.redis.hset(settingsKey(this.gate), this.settings.digest, this.settings.json);
      this.settingsWritten = true;
    } catch (error) {
      // Tried again with the next entry; its records meanwhile name settings a rehearsal may not find (it says so).
      this.deps.settingsRefused(this.gate, error);
    }
  }

  /** Appends one entry's deflated records; a refusal is counted against them. Whether it was appended. */
  private append(records: readonly TapeRecord[], body: Buffer, mean: number): Promise<boolean> {
    const { redis, maxLen, maxBytes } = this.deps;
    this.meanBody = 0.9 * (this.meanBody ?? body.length) + 0.1 * body.length;
    const entries = entriesKept(maxLen, maxBytes, mean, this.perBodyByte * this.meanBody + 128);
    return redis.xadd(tapeKey(this.gate), 'MAXLEN', '~', entries, '*', RECORD_FIELD, body).then(
      () => {
        if (this.appends++ % MEASURE_EVERY === 0) this.measure();
        return true;
      },
      (error: unknown) => {
        this.deps.failed(this.gate, error, records.length);
        return false;
      },
    );
  }

  private measure(): void {
    const meanBody = this.meanBody;
    const { redis } = this.deps;
    void Promise.all([redis.memory('USAGE', tapeKey(this.gate)), redis.xlen(tapeKey(this.gate))]).then(
      ([bytes, length]) => {
        if (Number(length) > 0 && meanBody !== undefined && meanBody > 0) this.perBodyByte = Number(bytes) / Number(length) / meanBody;
      },
      () => undefined, // measured again after the next MEASURE_EVERY appends
    );
  }
}
