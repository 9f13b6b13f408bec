import { defineStatusSection, type SectionHeadlineReason } from '../../runtime/contract/index.js';
import { streams } from '../../schemas/keys.js';
import { loadPositionBook, type PositionBookConfig } from './book.js';
import type { Leg } from './fold.js';
import { UNKNOWN_LANE } from './memory.js';

/**
 * The positions the book remembers as held whose figures have vanished (fold.ts): of unknown size,
 * so every open is blocked (position_price_unknown, naming them) until a fresh report says flat or
 * an operator clears them (`quantum-gates positions clear SYMBOL[:SIDE] --by NAME --why TEXT`).
 * Read as the decisions read it: the book, at the status's clock.
 */
export interface UnknownPosition {
  readonly symbol: string;
  readonly leg: Leg;
  /** The producer that went silent, by name. */
  readonly producer: string;
  /** The key it was last read from. */
  readonly key: string;
}

/** A lane as an operator knows its producer. */
export function producerName(source: string, key: string): string {
  if (source === 'snapshot') return `balance tracker (${streams.positionSnapshot})`;
  if (key.startsWith(UNKNOWN_LANE)) return 'unknown producer';
  return `P3.3 position ledger (${key})`;
}

const DEFAULTS: PositionBookConfig = {
  POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
  POSITION_SNAPSHOT_GROUP: 'position_snapshot',
  POSITION_BOOK_MAX_PENDING: 1000,
  POSITION_MAX_AGE_SEC: 120,
};

export const unknownPositionsSection = defineStatusSection<PositionBookConfig, readonly UnknownPosition[]>({
  key: 'positions_unknown',
  title: 'Held positions of unknown size',
  shortTitle: 'Unknown positions',
  views: [
    {
      shape: 'table',
      caption: 'Positions the book knew were held whose producers went silent (`quantum:gates:positions:held`)',
      empty: 'None: every held position is reported.',
      rowHeader: true,
      rowData: { symbol: 'symbol' },
      columns: [
        { key: 'symbol', label: 'Symbol' },
        { key: 'leg', label: 'Leg' },
        { key: 'producer', label: 'Silent producer' },
        { key: 'key', label: 'Last read from' },
      ],
    },
  ],
  read: (ctx) =>
    ctx.read('unknown positions', async () => {
      const { book } = await loadPositionBook(ctx.redis, ctx.config ?? DEFAULTS, { now: ctx.now() });
      return book.refused
        .filter((r) => r.reason === 'vanished' && r.leg !== undefined)
        .map((r) => ({ symbol: r.symbol, leg: r.leg!, producer: producerName(r.source, r.key), key: r.key }));
    }),
  headline: (unknown) => unknownReasons(unknown ?? []),
});

/** DEGRADED while any held position is of unknown size, naming the silent producers and the positions. */
export function unknownReasons(unknown: readonly UnknownPosition[]): SectionHeadlineReason[] {
  if (unknown.length === 0) return [];
  const producers = [...new Set(unknown.map((u) => u.producer))];
  const positions = [...new Set(unknown.map((u) => `${u.symbol}:${u.leg}`))];
  const named = positions.length <= 5 ? positions.join(', ') : `${positions.slice(0, 5).join(', ')} and ${positions.length - 5} more`;
  return [
    {
      state: 'DEGRADED',
      text: `${producers.join(' and ')} went silent on held positions ${named}: their size is unknown, opens are blocked (position_price_unknown) until a fresh report says flat or \`quantum-gates positions clear\``,
      since: null,
    },
  ];
}
