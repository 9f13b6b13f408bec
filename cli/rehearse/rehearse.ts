import {
  comparableConfig,
  isCredential,
  settingsKey,
  READ_TAPE_VERSIONS,
  tapeEntries,
  tapeKey,
  type TapedSettings,
  type TapeRecord,
} from '../../app/cli-door.js';
import { rehearseBatch as thisRehearseBatch, rehearsedGate as thisRehearsedGate, type RehearsedGate } from './rehearse-record.js';
import type { RehearsedRelease } from './release.js';

/** The tape reads a rehearsal makes (ioredis satisfies it). */
export interface TapeReader {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  xrangeBuffer(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]][]>;
  hgetall(key: string): Promise<Record<string, string>>;
}

export interface RehearseOptions {
  /** Decisions taped from this time (ms) on. */
  readonly since?: number | undefined;
  /** Only these gates' tapes. */
  readonly gates?: readonly string[] | undefined;
  /** At most this many decisions per gate, the oldest first. */
  readonly limit?: number | undefined;
  /** Differences listed per gate and class (verdict, other); default 5. */
  readonly examples?: number;
  /**
   * Settings rehearsed on purpose (--env-file): laid over each gate's taped environment. Without
   * them a gate's settings are those it taped, parsed by the release's parsers.
   */
  readonly settings?: Readonly<Record<string, string>> | undefined;
}

import { RehearsalTally, type RehearsalReport, type SettingChange } from './tally.js';

export type { Difference, KindCount, NotRehearsed, OtherField, RehearsalReport, SettingChange, UnanswerableReads } from './tally.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A gate's taped settings by digest; a field that does not parse is left out (its decisions then say so). */
async function tapedSettingsOf(redis: TapeReader, gate: string): Promise<Map<string, TapedSettings>> {
  const found = new Map<string, TapedSettings>();
  for (const [digest, json] of Object.entries(await redis.hgetall(settingsKey(gate)))) {
    try {
      const settings = JSON.parse(json) as TapedSettings;
      if (typeof settings.env === 'object' && settings.env !== null) found.set(digest, settings);
    } catch {
      // Not this version's: its decisions are rehearsed with the command's environment, and counted.
    }
  }
  return found;
}

/** The settings of `release` that parse otherwise than `running` (both as the tape keeps them: JSON, secrets out). */
function settingChanges(running: unknown, release: unknown): Omit<SettingChange, 'gate'>[] {
  const was = (running ?? {}) as Record<string, unknown>;
  const is = (comparableConfig(release) ?? {}) as Record<string, unknown>;
  const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));
  return [...new Set([...Object.keys(was), ...Object.keys(is)])]
    .filter((setting) => json(was[setting]) !== json(is[setting]))
    .map((setting) => ({ setting, running: json(was[setting]), release: json(is[setting]) }));
}

/** Why nothing could be rehearsed (exit 2): a rehearsal of no decisions is no evidence, never a pass. */
export class NothingToRehearse extends Error {}

async function tapedGates(redis: TapeReader): Promise<string[]> {
  const prefix = tapeKey('');
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    for (const key of keys) found.add(key.slice(prefix.length));
    cursor = next;
  } while (cursor !== '0');
  return [...found].sort();
}

type Undecodable = RehearsalReport['undecodable'][number];

/**
 * A gate's taped decisions from `since` on, oldest first, at most `limit`, with the time of the
 * entry that held each. An entry that does not decode is skipped and told to `skipped`, by its id.
 */
async function* tapedDecisions(
  redis: TapeReader,
  gate: string,
  since: number | undefined,
  limit: number,
  skipped: (entry: Undecodable) => void,
): AsyncGenerator<{ record: TapeRecord; at: number }> {
  let left = limit;
  for await (const entry of tapeEntries(redis, gate, since)) {
    if ('error' in entry) {
      skipped({ gate, entry: entry.id, error: entry.error });
      continue;
    }
    for (const record of entry.records) {
      if (left-- <= 0) return;
      yield { record, at: Number(entry.id.split('-')[0]) };
    }
  }
}

/**
 * Re-decides the taped decisions with `handlers` (another release's, or this checkout's) and
 * compares each with what was committed: per gate and decision kind how many came out the same,
 * differently or could not be decided from the tape, with the first differences field by field.
 */
export async function rehearse(
  redis: TapeReader,
  // Without its own runtime (a caller in this process: a bench, a test), this code's.
  release: Pick<RehearsedRelease, 'name' | 'handlers'> &
    Partial<Pick<RehearsedRelease, 'rehearseBatch' | 'rehearsedGate' | 'readVersions'>>,
  env: Env,
  options: RehearseOptions,
  now: number,
  where = 'the Redis given',
): Promise<RehearsalReport> {
  const examples = options.examples ?? 5;
  const gates = options.gates ?? (await tapedGates(redis));
  const nothing = (why: string) =>
    new NothingToRehearse(
      `${why} in ${where}: another Redis or db than the gates', a tape turned off (TAPE_MAXLEN=0), or tapes deleted; nothing was rehearsed`,
    );
  if (gates.length === 0) throw nothing('no gate has a tape');
  const inRelease = new Set(gates.filter((gate) => release.handlers.some((h) => h.name === gate)));
  const tally = new RehearsalTally(gates, inRelease, examples);
  // Credentials are never taped: a gate's are this command's (the same env file on a server).
  const secrets = Object.fromEntries(Object.entries(env).filter(([name, value]) => value !== undefined && isCredential(name)));
  const { rehearseBatch = thisRehearseBatch, rehearsedGate = thisRehearsedGate, readVersions = READ_TAPE_VERSIONS } = release;
  for (const gate of gates) {
    const undecodable = (entry: { entry: string; error: string }) => tally.add(gate, { kind: 'undecodable', ...entry });
    const decisions = tapedDecisions(redis, gate, options.since, options.limit ?? Number.MAX_SAFE_INTEGER, undecodable);
    const handler = release.handlers.find((h) => h.name === gate);
    if (!handler) {
      // Counted, so the last line says how many decisions nobody rehearsed.
      for await (const _taped of decisions) tally.add(gate, { kind: 'not-in-release' });
      continue;
    }
    // The gate as the release would run it with the settings each decision was taped with.
    const taped = await tapedSettingsOf(redis, gate);
    const byDigest = new Map<string, RehearsedGate>();
    let untaped: RehearsedGate | undefined;
    const rehearsedFor = (record: TapeRecord): RehearsedGate => {
      const settings = record.settings === undefined ? undefined : taped.get(record.settings);
      if (settings === undefined) return (untaped ??= rehearsedGate(handler, { ...env, ...options.settings }));
      let rehearsed = byDigest.get(record.settings!);
      if (rehearsed === undefined) {
        rehearsed = rehearsedGate(handler, { ...secrets, ...settings.env, ...options.settings });
        byDigest.set(record.settings!, rehearsed);
        for (const change of settingChanges(settings.config, rehearsed.config)) tally.add(gate, { kind: 'setting', change });
      }
      return rehearsed;
    };
    // The decisions of one batch are rehearsed together, on one batch state, as they were decided.
    let batch: { record: TapeRecord; at: number }[] = [];
    const states = new BatchStates();
    const flush = async () => {
      if (batch.length === 0) return;
      const { settings } = batch[0]!.record;
      const untaped = settings === undefined || !taped.has(settings);
      const results = await rehearseBatch(rehearsedFor(batch[0]!.record), states.given(batch.map((b) => b.record)));
      batch.forEach(({ record, at }, i) => tally.add(gate, { kind: 'rehearsed', record, at, result: results[i]!, untaped }));
      batch = [];
    };
    for await (const { record, at } of decisions) {
      if (!readVersions.has(record.v)) {
        tally.add(gate, { kind: 'other-version', record, at });
        continue;
      }
      const first = batch[0]?.record;
      if (first && (record.batch === undefined || record.batch !== first.batch || record.settings !== first.settings)) await flush();
      batch.push({ record, at });
    }
    await flush();
  }
  // A gate named, or (over the whole tape) a gate with a tape, of which nothing could be read: no silent pass.
  const wholeTape = options.gates !== undefined || options.since === undefined;
  const missing = wholeTape || tally.decisions === 0 ? tally.unread : [];
  if (missing.length > 0)
    throw nothing(`no taped decision of ${missing.join(', ')}${options.since === undefined ? '' : ' since the time given'}`);
  return tally.report({ release: release.name, at: now, since: options.since, redis: where });
}

/**
 * The batch states seen so far, by batch: a batch's records are not always together on the tape (a
 * message of it committed again after a conflict lands after other batches' records), and only its
 * first written record carries the state. The newest BATCH_STATES_KEPT batches are kept.
 */
export class BatchStates {
  private readonly known = new Map<string, NonNullable<TapeRecord['state']>>();

  /** The records, the first carrying its batch's state when none of them does and an earlier record did. */
  given(records: readonly TapeRecord[]): readonly TapeRecord[] {
    const batch = records[0]!.batch;
    if (batch === undefined) return records;
    const carried = records.findLast((r) => r.state !== undefined)?.state;
    if (carried !== undefined) {
      this.known.delete(batch);
      this.known.set(batch, carried);
      if (this.known.size > BATCH_STATES_KEPT) this.known.delete(this.known.keys().next().value!);
      return records;
    }
    const state = this.known.get(batch);
    return state === undefined ? records : [{ ...records[0]!, state }, ...records.slice(1)];
  }
}

/** Batches whose state a rehearsal keeps for their later records: a conflict's re-run commits within a few batches. */
const BATCH_STATES_KEPT = 1_000;
