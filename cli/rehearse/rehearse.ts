import {
  comparableConfig,
  decodeTapeEntry,
  isCredential,
  settingsKey,
  READ_TAPE_VERSIONS,
  tapeKey,
  type TapedSettings,
  type TapeRecord,
} from '../../app/cli-door.js';
import { changesOf, classOf, decisionKind, decisionLabel, type ChangeClass, type FieldChange } from './compare.js';
import {
  rehearseBatch as thisRehearseBatch,
  rehearsedGate as thisRehearsedGate,
  type Rehearsal,
  type RehearsedGate,
} from './rehearse-record.js';
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

/** A setting whose parsed value differs between the running gates (as taped) and the release. */
export interface SettingChange {
  readonly gate: string;
  readonly setting: string;
  /** JSON of the parsed values; undefined when the config has no such setting. */
  readonly running: string | undefined;
  readonly release: string | undefined;
}

export interface KindCount {
  readonly gate: string;
  readonly kind: string;
  same: number;
  /** Decisions that differ: `verdict` of them in their verdict, `other` only in other fields. */
  differ: number;
  verdict: number;
  other: number;
  unanswerable: number;
}

/** Of a gate's decisions that differ only in other fields: how many differ in this field, and one of them. */
export interface OtherField {
  readonly gate: string;
  readonly field: string;
  decisions: number;
  readonly example: FieldChange & { readonly id: string };
}

export interface Difference {
  readonly gate: string;
  readonly kind: string;
  readonly entry: string;
  readonly id: string;
  readonly symbol: string | undefined;
  /** `verdict` when any change is to its verdict, else `other`. */
  readonly class: ChangeClass;
  /** Its verdict's changes first. */
  readonly changes: readonly FieldChange[];
}

export interface UnanswerableReads {
  readonly gate: string;
  readonly read: string;
  decisions: number;
  readonly example: string;
}

export interface RehearsalReport {
  readonly release: string;
  readonly at: number;
  readonly since: number | undefined;
  readonly decisions: number;
  readonly same: number;
  /** Decisions that differ (verdicts + others). */
  readonly differ: number;
  /** Decisions whose verdict changed. */
  readonly verdicts: number;
  /** Decisions that differ only in other fields (echoed settings, times, TTLs, scheduled jobs). */
  readonly others: number;
  readonly unanswerable: number;
  readonly kinds: readonly KindCount[];
  /** Per gate, its verdict changes first, then its other differences (every one under --json, else the first ones). */
  readonly differences: readonly Difference[];
  /** The fields the decisions that differ only in other fields differ in, per gate, with a count and an example each. */
  readonly otherFields: readonly OtherField[];
  readonly unanswerableReads: readonly UnanswerableReads[];
  /** Gates with a tape that the rehearsed release does not have. */
  readonly gatesNotInRelease: readonly string[];
  /** Where the tape was read, and the time span of the decisions rehearsed (ms; undefined when none). */
  readonly tape: { readonly redis: string; readonly from: number | undefined; readonly to: number | undefined };
  /** Records of another tape version than this release reads: not rehearsed, never counted as a difference. */
  readonly otherVersions: readonly { readonly gate: string; readonly version: string; decisions: number; readonly example: string }[];
  /** Tape entries that did not decode (truncated, another format): skipped, each named by its entry id. */
  readonly undecodable: readonly { readonly gate: string; readonly entry: string; readonly error: string }[];
  /** Every setting whose parsed value differs between the running gates (their taped settings) and the release. */
  readonly settingChanges: readonly SettingChange[];
  /** Decisions taped without settings the tape holds (taped before settings were, or their hash deleted): rehearsed with this command's environment. */
  readonly withoutSettings: readonly { readonly gate: string; decisions: number }[];
  /**
   * The taped decisions of the hosted gates that were not rehearsed, and why; any of them is no
   * pass. Tape entries that do not decode count one each: how many decisions they held is unknown.
   */
  readonly notRehearsed: NotRehearsed;
}

export interface NotRehearsed {
  /** The sum of the others. */
  readonly total: number;
  /** Records of a tape version the release does not read. */
  readonly otherVersion: number;
  /** Tape entries that do not decode (cut, another format). */
  readonly undecodable: number;
  /** Decisions that read what the tape never holds (unanswerable). */
  readonly unanswerable: number;
  /** Decisions of taped gates the release does not have. */
  readonly gateNotInRelease: number;
}

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
function settingChanges(gate: string, running: unknown, release: unknown): SettingChange[] {
  const was = (running ?? {}) as Record<string, unknown>;
  const is = (comparableConfig(release) ?? {}) as Record<string, unknown>;
  const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));
  return [...new Set([...Object.keys(was), ...Object.keys(is)])]
    .filter((setting) => json(was[setting]) !== json(is[setting]))
    .map((setting) => ({ gate, setting, running: json(was[setting]), release: json(is[setting]) }));
}

/** Why nothing could be rehearsed (exit 2): a rehearsal of no decisions is no evidence, never a pass. */
export class NothingToRehearse extends Error {}

const PAGE = 500;

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
  let start = since === undefined ? '-' : `${since}-0`;
  let left = limit;
  while (left > 0) {
    const page = await redis.xrangeBuffer(tapeKey(gate), start, '+', 'COUNT', PAGE);
    for (const [id, fields] of page) {
      const entry = id.toString();
      let records: TapeRecord[];
      try {
        records = decodeTapeEntry(fields);
      } catch (error) {
        skipped({ gate, entry, error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      for (const record of records) {
        if (left-- <= 0) return;
        yield { record, at: Number(entry.split('-')[0]) };
      }
    }
    if (page.length < PAGE) return;
    start = `(${page.at(-1)![0].toString()}`;
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
  const span = { from: undefined as number | undefined, to: undefined as number | undefined };
  const otherVersions = new Map<string, RehearsalReport['otherVersions'][number]>();
  const undecodable: Undecodable[] = [];
  const empty: string[] = [];
  const kinds = new Map<string, KindCount>();
  const differences: Difference[] = [];
  const unanswerableReads = new Map<string, UnanswerableReads>();
  const gatesNotInRelease: string[] = [];
  const otherFields = new Map<string, OtherField>();
  const changedSettings = new Map<string, SettingChange>();
  const withoutSettings: { gate: string; decisions: number }[] = [];
  // Credentials are never taped: a gate's are this command's (the same env file on a server).
  const secrets = Object.fromEntries(Object.entries(env).filter(([name, value]) => value !== undefined && isCredential(name)));
  const { rehearseBatch = thisRehearseBatch, rehearsedGate = thisRehearsedGate, readVersions = READ_TAPE_VERSIONS } = release;
  let ofGatesNotInRelease = 0;
  const totals = { decisions: 0, same: 0, differ: 0, verdicts: 0, others: 0, unanswerable: 0 };
  for (const gate of gates) {
    const handler = release.handlers.find((h) => h.name === gate);
    if (!handler) {
      gatesNotInRelease.push(gate);
      // Counted, so the last line says how many decisions nobody rehearsed.
      const decisions = tapedDecisions(redis, gate, options.since, options.limit ?? Number.MAX_SAFE_INTEGER, (u) => undecodable.push(u));
      for await (const _taped of decisions) ofGatesNotInRelease += 1;
      continue;
    }
    // The gate as the release would run it with the settings each decision was taped with.
    const taped = await tapedSettingsOf(redis, gate);
    const byDigest = new Map<string, RehearsedGate>();
    let untaped: RehearsedGate | undefined;
    let unsettled = 0;
    const rehearsedFor = (record: TapeRecord): RehearsedGate => {
      const settings = record.settings === undefined ? undefined : taped.get(record.settings);
      if (settings === undefined) return (untaped ??= rehearsedGate(handler, { ...env, ...options.settings }));
      let rehearsed = byDigest.get(record.settings!);
      if (rehearsed === undefined) {
        rehearsed = rehearsedGate(handler, { ...secrets, ...settings.env, ...options.settings });
        byDigest.set(record.settings!, rehearsed);
        for (const change of settingChanges(gate, settings.config, rehearsed.config)) changedSettings.set(JSON.stringify(change), change);
      }
      return rehearsed;
    };
    const shown = { verdict: 0, other: 0 };
    let read = 0;
    const tally = (record: TapeRecord, result: Rehearsal) => {
      const kind = decisionKind(record);
      const count = kinds.get(`${gate}\n${kind}`) ?? { gate, kind, same: 0, differ: 0, verdict: 0, other: 0, unanswerable: 0 };
      kinds.set(`${gate}\n${kind}`, count);
      totals.decisions += 1;
      if ('unanswerable' in result) {
        count.unanswerable += 1;
        totals.unanswerable += 1;
        const key = `${gate}\n${result.unanswerable}`;
        const seen = unanswerableReads.get(key);
        if (seen) seen.decisions += 1;
        else unanswerableReads.set(key, { gate, read: result.unanswerable, decisions: 1, example: decisionLabel(record).id });
        return;
      }
      const changes = changesOf(record, result);
      if (changes.length === 0) {
        count.same += 1;
        totals.same += 1;
        return;
      }
      const decided = classOf(changes);
      count.differ += 1;
      count[decided] += 1;
      totals.differ += 1;
      totals[decided === 'verdict' ? 'verdicts' : 'others'] += 1;
      const label = decisionLabel(record);
      if (decided === 'other')
        for (const change of changes) {
          const seen = otherFields.get(`${gate}\n${change.field}`);
          if (seen) seen.decisions += 1;
          else
            otherFields.set(`${gate}\n${change.field}`, { gate, field: change.field, decisions: 1, example: { ...change, id: label.id } });
        }
      if (shown[decided]++ < examples) differences.push({ gate, kind, entry: record.id, ...label, class: decided, changes });
    };
    // The decisions of one batch are rehearsed together, on one batch state, as they were decided.
    let batch: TapeRecord[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const { settings } = batch[0]!;
      if (settings === undefined || !taped.has(settings)) unsettled += batch.length;
      const results = await rehearseBatch(rehearsedFor(batch[0]!), batch);
      batch.forEach((record, i) => tally(record, results[i]!));
      batch = [];
    };
    const decisions = tapedDecisions(redis, gate, options.since, options.limit ?? Number.MAX_SAFE_INTEGER, (u) => undecodable.push(u));
    for await (const { record, at } of decisions) {
      read += 1;
      span.from = Math.min(span.from ?? at, at);
      span.to = Math.max(span.to ?? at, at);
      // Another version's record may mean its fields otherwise: named and counted apart, never compared.
      if (!readVersions.has(record.v)) {
        const version = String((record as { v?: unknown }).v);
        const seen = otherVersions.get(`${gate}\n${version}`);
        if (seen) seen.decisions += 1;
        else otherVersions.set(`${gate}\n${version}`, { gate, version, decisions: 1, example: record.id });
        continue;
      }
      if (batch.length > 0 && (record.batch === undefined || record.batch !== batch[0]!.batch || record.settings !== batch[0]!.settings))
        await flush();
      batch.push(record);
    }
    await flush();
    if (read === 0) empty.push(gate);
    if (unsettled > 0) withoutSettings.push({ gate, decisions: unsettled });
  }
  // A gate named, or (over the whole tape) a gate with a tape, of which nothing could be read: no silent pass.
  const wholeTape = options.gates !== undefined || options.since === undefined;
  const otherVersion = [...otherVersions.values()].reduce((sum, o) => sum + o.decisions, 0);
  const notRehearsed = {
    otherVersion,
    undecodable: undecodable.length,
    unanswerable: totals.unanswerable,
    gateNotInRelease: ofGatesNotInRelease,
    total: otherVersion + undecodable.length + totals.unanswerable + ofGatesNotInRelease,
  };
  const missing = wholeTape || totals.decisions === 0 ? empty : [];
  if (missing.length > 0)
    throw nothing(`no taped decision of ${missing.join(', ')}${options.since === undefined ? '' : ' since the time given'}`);
  return {
    release: release.name,
    at: now,
    since: options.since,
    ...totals,
    kinds: [...kinds.values()],
    // Per gate (in the order rehearsed), its verdict changes before its other differences.
    differences: differences
      .map((d, i) => ({ d, i }))
      .sort(
        (x, y) =>
          gates.indexOf(x.d.gate) - gates.indexOf(y.d.gate) || (x.d.class === y.d.class ? x.i - y.i : x.d.class === 'verdict' ? -1 : 1),
      )
      .map(({ d }) => d),
    otherFields: [...otherFields.values()],
    unanswerableReads: [...unanswerableReads.values()],
    gatesNotInRelease,
    tape: { redis: where, ...span },
    otherVersions: [...otherVersions.values()],
    undecodable,
    settingChanges: [...changedSettings.values()],
    withoutSettings,
    notRehearsed,
  };
}
