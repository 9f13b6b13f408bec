import type { AnyHandler } from '../../runtime/host/index.js';
import { decodeTapeEntry, tapeKey, type TapeRecord } from '../../app/cli-door.js';
import { changesOf, decisionKind, decisionLabel, type FieldChange } from './compare.js';
import { rehearseBatch, rehearsedGate, type Rehearsal, type RehearsedGate } from './rehearse-record.js';

/** The tape reads a rehearsal makes (ioredis satisfies it). */
export interface TapeReader {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  xrangeBuffer(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]][]>;
}

export interface RehearseOptions {
  /** Decisions taped from this time (ms) on. */
  readonly since?: number | undefined;
  /** Only these gates' tapes. */
  readonly gates?: readonly string[] | undefined;
  /** At most this many decisions per gate, the oldest first. */
  readonly limit?: number | undefined;
  /** Differences and unanswerable reads shown per gate. */
  readonly examples?: number;
}

export interface KindCount {
  readonly gate: string;
  readonly kind: string;
  same: number;
  differ: number;
  unanswerable: number;
}

export interface Difference {
  readonly gate: string;
  readonly kind: string;
  readonly entry: string;
  readonly id: string;
  readonly symbol: string | undefined;
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
  readonly differ: number;
  readonly unanswerable: number;
  readonly kinds: readonly KindCount[];
  readonly differences: readonly Difference[];
  readonly unanswerableReads: readonly UnanswerableReads[];
  /** Gates with a tape that the rehearsed release does not have. */
  readonly gatesNotInRelease: readonly string[];
}

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

/** A gate's taped decisions from `since` on, oldest first, at most `limit`. */
async function* tapedDecisions(redis: TapeReader, gate: string, since: number | undefined, limit: number): AsyncGenerator<TapeRecord> {
  let start = since === undefined ? '-' : `${since}-0`;
  let left = limit;
  while (left > 0) {
    const page = await redis.xrangeBuffer(tapeKey(gate), start, '+', 'COUNT', PAGE);
    for (const [, fields] of page)
      for (const record of decodeTapeEntry(fields)) {
        if (left-- <= 0) return;
        yield record;
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
  release: { readonly name: string; readonly handlers: readonly AnyHandler[] },
  env: Readonly<Record<string, string | undefined>>,
  options: RehearseOptions,
  now: number,
): Promise<RehearsalReport> {
  const examples = options.examples ?? 5;
  const gates = options.gates ?? (await tapedGates(redis));
  const kinds = new Map<string, KindCount>();
  const differences: Difference[] = [];
  const unanswerableReads = new Map<string, UnanswerableReads>();
  const gatesNotInRelease: string[] = [];
  const totals = { decisions: 0, same: 0, differ: 0, unanswerable: 0 };
  for (const gate of gates) {
    const handler = release.handlers.find((h) => h.name === gate);
    if (!handler) {
      gatesNotInRelease.push(gate);
      continue;
    }
    const rehearsed: RehearsedGate = rehearsedGate(handler, env);
    let shown = 0;
    const tally = (record: TapeRecord, result: Rehearsal) => {
      const kind = decisionKind(record);
      const count = kinds.get(`${gate}\n${kind}`) ?? { gate, kind, same: 0, differ: 0, unanswerable: 0 };
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
      count.differ += 1;
      totals.differ += 1;
      if (shown++ < examples) differences.push({ gate, kind, entry: record.id, ...decisionLabel(record), changes });
    };
    // The decisions of one batch are rehearsed together, on one batch state, as they were decided.
    let batch: TapeRecord[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const results = await rehearseBatch(rehearsed, batch);
      batch.forEach((record, i) => tally(record, results[i]!));
      batch = [];
    };
    for await (const record of tapedDecisions(redis, gate, options.since, options.limit ?? Number.MAX_SAFE_INTEGER)) {
      if (batch.length > 0 && (record.batch === undefined || record.batch !== batch[0]!.batch)) await flush();
      batch.push(record);
    }
    await flush();
  }
  return {
    release: release.name,
    at: now,
    since: options.since,
    ...totals,
    kinds: [...kinds.values()],
    differences,
    unanswerableReads: [...unanswerableReads.values()],
    gatesNotInRelease,
  };
}
