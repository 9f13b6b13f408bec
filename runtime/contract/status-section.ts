import type { RedisReader } from './redis-reader.js';
import type { AnySectionView, SectionView } from '../../schemas/status/views.js';

/** A gate's own part of the status page, GET /status and `quantum-gates status`: what to read and how to show it. */
export interface StatusSectionDeclaration<Config, Value> {
  readonly key: string; // in the /status JSON, snake_case
  readonly title: string;
  readonly shortTitle?: string; // in the terminal
  readonly views?: readonly SectionView<Value>[]; // none: the JSON as it is
  readonly order?: number; // among the page's main sections, lower first; none: after them, in gate-list order
  /** Null when it could not be read (ctx.read said why). Read for every gate of the list, hosted here or not: Redis is the same. */
  read(ctx: StatusReadContext<Config>): Promise<Value | null>;
  headline?(value: Value | null, now: number): readonly SectionHeadlineReason[];
  /** Combines the values of gates declaring the same key (the first's merge); without one, a second declaration stops the start. */
  merge?(values: readonly Value[]): Value;
}

/** Compared field by field, so a section's typed views fit the views of any value. */
export type AnyStatusSection<Config> = Omit<StatusSectionDeclaration<Config, unknown>, 'views'> & {
  readonly views?: readonly AnySectionView[];
};

export interface StatusReadContext<Config> {
  readonly redis: RedisReader;
  readonly config: Config | undefined; // undefined where this process does not host the gate: read defaults, report null what cannot be known
  readonly env: Readonly<Record<string, string | undefined>>;
  now(): number;
  /** One named read, once per status and shared: slow or failing, it resolves null, reported under `part`. */
  read<T>(part: string, read: () => Promise<T>): Promise<T | null>;
}

/** NOTE is said on the headline without changing its state: something to know, not an alarm. */
export interface SectionHeadlineReason {
  readonly state: 'BLOCKING' | 'DEGRADED' | 'NOTE';
  readonly text: string;
  readonly since: number | null; // ms since the epoch, where known
}

/** Identity: infers the section's value type from its reader. */
export const defineStatusSection = <Config, Value>(section: StatusSectionDeclaration<Config, Value>) => section;
