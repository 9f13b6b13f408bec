import type { TapeRecord } from '../../app/cli-door.js';
import { changesOf, classOf, decisionKind, decisionLabel, type ChangeClass, type FieldChange } from './compare.js';
import type { Rehearsal } from './rehearse-record.js';

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

/** What a rehearsal met on a gate's tape, one at a time, as `RehearsalTally.add` takes it. */
export type Seen =
  /** A taped decision rehearsed (`untaped`: with this command's settings, the tape holding none for it). */
  | { readonly kind: 'rehearsed'; readonly record: TapeRecord; readonly at: number; readonly result: Rehearsal; readonly untaped: boolean }
  /** A record of a tape version the release does not read: named and counted apart, never compared. */
  | { readonly kind: 'other-version'; readonly record: TapeRecord; readonly at: number }
  /** A tape entry that did not decode. */
  | { readonly kind: 'undecodable'; readonly entry: string; readonly error: string }
  /** A taped decision of a gate the release does not have. */
  | { readonly kind: 'not-in-release' }
  /** The release parses a setting otherwise than the running gate did. */
  | { readonly kind: 'setting'; readonly change: Omit<SettingChange, 'gate'> };

/**
 * A rehearsal's counts, built as it goes (`add`, for each thing met on each gate's tape) and read
 * once at the end (`report`). `gates`: those rehearsed, in order; `inRelease`: those the release has.
 */
export class RehearsalTally {
  private readonly totals = { decisions: 0, same: 0, differ: 0, verdicts: 0, others: 0, unanswerable: 0 };
  private readonly kinds = new Map<string, KindCount>();
  private readonly differences: Difference[] = [];
  /** Per gate, the differences listed so far of each class. */
  private readonly shown = new Map<string, Record<ChangeClass, number>>();
  private readonly otherFields = new Map<string, OtherField>();
  private readonly unanswerableReads = new Map<string, UnanswerableReads>();
  private readonly otherVersions = new Map<string, RehearsalReport['otherVersions'][number]>();
  private readonly undecodable: RehearsalReport['undecodable'][number][] = [];
  private readonly settingChanges = new Map<string, SettingChange>();
  private readonly withoutSettings = new Map<string, number>();
  /** Records read of each gate of the release; decisions of each gate it lacks. */
  private readonly read = new Map<string, number>();
  private readonly span: { from: number | undefined; to: number | undefined } = { from: undefined, to: undefined };

  constructor(
    private readonly gates: readonly string[],
    private readonly inRelease: ReadonlySet<string>,
    /** Differences listed per gate and class (verdict, other). */
    private readonly examples: number,
  ) {}

  add(gate: string, seen: Seen): void {
    if (seen.kind === 'undecodable') return void this.undecodable.push({ gate, entry: seen.entry, error: seen.error });
    if (seen.kind === 'setting') return void this.settingChanges.set(JSON.stringify({ gate, ...seen.change }), { gate, ...seen.change });
    this.read.set(gate, (this.read.get(gate) ?? 0) + 1);
    if (seen.kind === 'not-in-release') return;
    this.span.from = Math.min(this.span.from ?? seen.at, seen.at);
    this.span.to = Math.max(this.span.to ?? seen.at, seen.at);
    if (seen.kind === 'other-version') {
      const version = String((seen.record as { v?: unknown }).v);
      const known = this.otherVersions.get(`${gate}\n${version}`);
      if (known) known.decisions += 1;
      else this.otherVersions.set(`${gate}\n${version}`, { gate, version, decisions: 1, example: seen.record.id });
      return;
    }
    if (seen.untaped) this.withoutSettings.set(gate, (this.withoutSettings.get(gate) ?? 0) + 1);
    this.decided(gate, seen.record, seen.result);
  }

  private decided(gate: string, record: TapeRecord, result: Rehearsal): void {
    const kind = decisionKind(record);
    const count = this.kinds.get(`${gate}\n${kind}`) ?? { gate, kind, same: 0, differ: 0, verdict: 0, other: 0, unanswerable: 0 };
    this.kinds.set(`${gate}\n${kind}`, count);
    this.totals.decisions += 1;
    if ('unanswerable' in result) {
      count.unanswerable += 1;
      this.totals.unanswerable += 1;
      const key = `${gate}\n${result.unanswerable}`;
      const known = this.unanswerableReads.get(key);
      if (known) known.decisions += 1;
      else this.unanswerableReads.set(key, { gate, read: result.unanswerable, decisions: 1, example: decisionLabel(record).id });
      return;
    }
    const changes = changesOf(record, result);
    if (changes.length === 0) {
      count.same += 1;
      this.totals.same += 1;
      return;
    }
    const decided = classOf(changes);
    count.differ += 1;
    count[decided] += 1;
    this.totals.differ += 1;
    this.totals[decided === 'verdict' ? 'verdicts' : 'others'] += 1;
    const label = decisionLabel(record);
    if (decided === 'other')
      for (const change of changes) {
        const known = this.otherFields.get(`${gate}\n${change.field}`);
        if (known) known.decisions += 1;
        else
          this.otherFields.set(`${gate}\n${change.field}`, {
            gate,
            field: change.field,
            decisions: 1,
            example: { ...change, id: label.id },
          });
      }
    const shown = this.shown.get(gate) ?? { verdict: 0, other: 0 };
    this.shown.set(gate, shown);
    if (shown[decided]++ < this.examples) this.differences.push({ gate, kind, entry: record.id, ...label, class: decided, changes });
  }

  /** The gates of the release of which nothing was read. */
  get unread(): string[] {
    return this.gates.filter((gate) => this.inRelease.has(gate) && !this.read.has(gate));
  }

  get decisions(): number {
    return this.totals.decisions;
  }

  report(of: {
    readonly release: string;
    readonly at: number;
    readonly since: number | undefined;
    readonly redis: string;
  }): RehearsalReport {
    const { gates } = this;
    const otherVersion = [...this.otherVersions.values()].reduce((sum, o) => sum + o.decisions, 0);
    const gatesNotInRelease = gates.filter((gate) => !this.inRelease.has(gate));
    const ofGatesNotInRelease = gatesNotInRelease.reduce((sum, gate) => sum + (this.read.get(gate) ?? 0), 0);
    const unanswerable = this.totals.unanswerable;
    return {
      release: of.release,
      at: of.at,
      since: of.since,
      ...this.totals,
      kinds: [...this.kinds.values()],
      // Per gate (in the order rehearsed), its verdict changes before its other differences.
      differences: this.differences
        .map((d, i) => ({ d, i }))
        .sort(
          (x, y) =>
            gates.indexOf(x.d.gate) - gates.indexOf(y.d.gate) || (x.d.class === y.d.class ? x.i - y.i : x.d.class === 'verdict' ? -1 : 1),
        )
        .map(({ d }) => d),
      otherFields: [...this.otherFields.values()],
      unanswerableReads: [...this.unanswerableReads.values()],
      gatesNotInRelease,
      tape: { redis: of.redis, ...this.span },
      otherVersions: [...this.otherVersions.values()],
      undecodable: this.undecodable,
      settingChanges: [...this.settingChanges.values()],
      withoutSettings: gates.flatMap((gate) =>
        this.withoutSettings.has(gate) ? [{ gate, decisions: this.withoutSettings.get(gate)! }] : [],
      ),
      notRehearsed: {
        otherVersion,
        undecodable: this.undecodable.length,
        unanswerable,
        gateNotInRelease: ofGatesNotInRelease,
        total: otherVersion + this.undecodable.length + unanswerable + ofGatesNotInRelease,
      },
    };
  }
}
