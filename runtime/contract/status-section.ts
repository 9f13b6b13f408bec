import type { RedisReader } from './redis-reader.js';
import type { AnySectionView, SectionView } from '../../schemas/status/views.js';

/**
 * A gate's own part of the status page, of GET /status and of `quantum-gates status` (the heat
 * gate's heat and its history, the governor's kill switch, the budget engine's budgets...). The
 * gate says what to read and how to show it; the runtime reads every declared section at each
 * request, puts its value under `key` in the /status JSON and its view in GET /status/sections,
 * and folds its headline reasons into the page's OK / DEGRADED / BLOCKING. The runtime knows no
 * gate's keys: a new gate's section appears by declaring it.
 */
export interface StatusSectionDeclaration<Config, Value> {
  /** Its key in the /status JSON (snake_case, like the rest). */
  readonly key: string;
  /** Its heading on the page and in the terminal. */
  readonly title: string;
  /** Its heading in the terminal where that is shorter. */
  readonly shortTitle?: string;
  /**
   * How the page and `quantum-gates status` draw it without knowing the gate, one shape after
   * another (schemas/status/views.ts); none: the JSON as it is.
   */
  readonly views?: readonly SectionView<Value>[];
  /**
   * Its place among the page's main sections, lower first (in the terminal, among the blocks
   * after the gates). Without one it follows them, in the gate list's order.
   */
  readonly order?: number;
  /**
   * Reads the section; null when it could not be read (ctx.read already said why). Every gate in
   * the process's gate list is read, hosted here or not: a section reads Redis, which is the same
   * whichever replica hosts the gate.
   */
  read(ctx: StatusReadContext<Config>): Promise<Value | null>;
  /** What the value says about trading, for the headline (a kill switch on blocks it). */
  headline?(value: Value | null, now: number): readonly SectionHeadlineReason[];
  /**
   * Several gates may declare the same key (the heat gate's and the governor's decisions): the
   * values read (null ones left out) are combined by the first declaration's merge. Without one,
   * a second declaration of the key stops the process at start, as does a key the status has of
   * its own (gates, headline, errors...).
   */
  merge?(values: readonly Value[]): Value;
}

/**
 * A section whatever its value, as a gate's list and the runtime hold them: compared field by
 * field, so a section's typed views fit the views of any value (the shapes with string keys).
 */
export type AnyStatusSection<Config> = Omit<StatusSectionDeclaration<Config, unknown>, 'views'> & {
  readonly views?: readonly AnySectionView[];
};

/** What a section reads with, at each request. */
export interface StatusReadContext<Config> {
  readonly redis: RedisReader;
  /**
   * The gate's parsed settings where this process hosts it; undefined where it does not, and the
   * section reads its defaults (what it cannot know from here, it reports as null).
   */
  readonly config: Config | undefined;
  /** The process's environment, for the few names a section reads whoever hosts the gate. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * One named read (a Redis key or stream): a read slower than the status allows, or failing,
   * resolves null and is reported under `part` (in `errors` and the headline). Parts of the same
   * name are read once per status and shared, so two sections of one stream cost one read.
   */
  read<T>(part: string, read: () => Promise<T>): Promise<T | null>;
}

/**
 * One line of the headline a section contributes. NOTE is said on the headline without changing
 * its state: something to know before acting, not an alarm (the heat gate's calibration warning).
 */
export interface SectionHeadlineReason {
  readonly state: 'BLOCKING' | 'DEGRADED' | 'NOTE';
  readonly text: string;
  /** When the condition began (ms since the epoch), where known. */
  readonly since: number | null;
}

/** Identity helper that infers the section's value type from its reader. */
export function defineStatusSection<Config, Value>(
  section: StatusSectionDeclaration<Config, Value>,
): StatusSectionDeclaration<Config, Value> {
  return section;
}
