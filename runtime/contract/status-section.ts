import type { RedisReader } from './redis-reader.js';

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
  /** Its heading on the page. */
  readonly title: string;
  /** How the page draws it without knowing the gate, one shape after another; none: JSON and CLI only. */
  readonly views?: readonly SectionView[];
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

/** One line of the headline a section contributes. */
export interface SectionHeadlineReason {
  readonly state: 'BLOCKING' | 'DEGRADED';
  readonly text: string;
  /** When the condition began (ms since the epoch), where known. */
  readonly since: number | null;
}

/** How a value is written on the page. */
export type ValueFormat = 'text' | 'code' | 'count' | 'number' | 'usd' | 'time' | 'flag';

/** One field of the section's value (a key of its object, or of a table row). */
export interface ViewField {
  readonly key: string;
  readonly label: string;
  readonly format?: ValueFormat;
  /** Digits after the point for 'number'. */
  readonly digits?: number;
}

/**
 * The shapes the page draws a section in, knowing nothing of the gate:
 * - fields: the value is an object, shown as label / value rows;
 * - table: the value is an array of objects (or an object holding one at `rows`), one row each;
 * - series: the value holds an array of points (at `points`), drawn as a line of `y` over time `x`.
 * A value of null is drawn as "could not be read".
 */
export type SectionView =
  | { readonly shape: 'fields'; readonly fields: readonly ViewField[] }
  | {
      readonly shape: 'table';
      readonly columns: readonly ViewField[];
      /** The key of the array inside the value; none: the value is the array. */
      readonly rows?: string;
      /** Said when there are no rows. */
      readonly empty: string;
    }
  | { readonly shape: 'series'; readonly points: string; readonly x: string; readonly y: string; readonly label: string };

/** Identity helper that infers the section's value type from its reader. */
export function defineStatusSection<Config, Value>(
  section: StatusSectionDeclaration<Config, Value>,
): StatusSectionDeclaration<Config, Value> {
  return section;
}
