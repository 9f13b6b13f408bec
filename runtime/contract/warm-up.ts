import type { Fields } from './effects.js';

/**
 * What a gate's reads find during the start-up warm-up: a few keys by type, never the real
 * Redis. Streams oldest first; a sorted set maps member to score; lists head first.
 */
export interface SampleRedis {
  readonly strings?: Readonly<Record<string, string>>;
  readonly hashes?: Readonly<Record<string, Fields>>;
  readonly sets?: Readonly<Record<string, readonly string[]>>;
  readonly sortedSets?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly lists?: Readonly<Record<string, readonly string[]>>;
  readonly streams?: Readonly<Record<string, readonly { readonly id: string; readonly fields: Fields }[]>>;
}

/**
 * Synthetic traffic the runtime runs through the gate at start, before it reads its stream, so
 * that V8 has compiled the per-message code before a backlog is drained (runtime/sources/warm-up.ts).
 * Nothing of it is written, counted or logged. Entries should look like a real producer's, so the
 * compiler learns the shapes real traffic has.
 */
export interface WarmUpSample {
  /** The n-th synthetic stream entry (n from 0), as a real producer writes it. */
  readonly entry: (n: number) => Fields;
  /** What the gate's reads (its batch state, its lookups) find meanwhile. */
  readonly redis?: SampleRedis;
}
