import { defineStatusSection, type SectionHeadlineReason } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseHeldKey, SNAPSHOT_LANE, type Leg } from './fold.js';
import { heldMemoryOf, UNKNOWN_LANE } from './memory.js';

/**
 * The positions the book remembers as held whose producers went silent (fold.ts), as the last
 * decision found them (its memory, quantum:gates:positions:held: one read, no book): of unknown
 * size, so opens are blocked naming them until a fresh report says flat or an operator clears them
 * (`quantum-gates positions clear SYMBOL[:SIDE] --by NAME --why TEXT`).
 */
export interface UnknownPosition {
  readonly symbol: string;
  readonly leg: Leg;
  /** The producers that went silent, by name. */
  readonly producers: string;
  /** Since when the book has remembered it as held (ms). */
  readonly held_since: number | null;
}

/** A lane as an operator knows its producer. */
export function producerName(lane: string): string {
  if (lane === SNAPSHOT_LANE) return 'balance tracker (quantum:stream:position.snapshot)';
  if (lane === UNKNOWN_LANE) return 'unknown producer (an unreadable memory value)';
  return `P3.3 position ledger (${lane}{symbol})`;
}

export const unknownPositionsSection = defineStatusSection<unknown, readonly UnknownPosition[]>({
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
        { key: 'producers', label: 'Silent producer' },
        { key: 'held_since', name: 'since', label: 'Held since', format: 'time', ago: true },
      ],
    },
  ],
  read: (ctx) =>
    ctx.read('unknown positions', async () => {
      const memory = heldMemoryOf(Object.entries(await ctx.redis.hgetall(keys.positionsHeld)).flat());
      return [...memory].flatMap(([key, held]) => {
        const at = parseHeldKey(key);
        if (at === undefined || held.silent === undefined || held.silent.length === 0) return [];
        return [{ ...at, producers: held.silent.map(producerName).join(', '), held_since: held.atMs > 0 ? held.atMs : null }];
      });
    }),
  headline: (unknown) => unknownReasons(unknown ?? []),
});

/** DEGRADED while any held position is of unknown size, naming the silent producers and the positions. */
export function unknownReasons(unknown: readonly UnknownPosition[]): SectionHeadlineReason[] {
  if (unknown.length === 0) return [];
  const producers = [...new Set(unknown.flatMap((u) => u.producers.split(', ')))];
  const positions = unknown.map((u) => `${u.symbol}:${u.leg}`);
  const named = positions.length <= 5 ? positions.join(', ') : `${positions.slice(0, 5).join(', ')} and ${positions.length - 5} more`;
  const seen = unknown.map((u) => u.held_since).filter((t): t is number => t !== null);
  return [
    {
      state: 'DEGRADED',
      text: `${producers.join(' and ')} went silent on held positions ${named}: of unknown size, opens are blocked until a fresh report says flat or \`quantum-gates positions clear\``,
      since: seen.length === 0 ? null : Math.min(...seen),
    },
  ];
}
