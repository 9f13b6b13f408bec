import type { ShadowReader } from './reader.js';

/** Entries read per XRANGE. */
export const PAGE = 500;

/** A stream's entries from `start` on, a page at a time. */
export async function* streamEntries(redis: ShadowReader, key: string, start: string): AsyncGenerator<[string, string[]]> {
  let from = start;
  for (;;) {
    const page = await redis.xrange(key, from, '+', 'COUNT', PAGE);
    yield* page;
    if (page.length < PAGE) return;
    from = `(${page.at(-1)![0]}`;
  }
}
