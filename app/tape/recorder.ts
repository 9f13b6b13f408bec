import type { DecisionTape, Delivery, RedisReader } from '../../runtime/host/index.js';
import { READ_METHODS, tapedReply, TAPE_VERSION, type TapeRecord, type TapedReads } from './format.js';

/** Where a commit's records go, together: never waits, never throws (app/tape/store.ts). */
export type TapeSink = (gate: string, records: readonly TapeRecord[]) => void;

/** A reader that notes each reply (or rejection) in `reads`, passing everything else through. */
function recordingReader(redis: RedisReader, reads: TapedReads): RedisReader {
  return new Proxy(redis, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !READ_METHODS.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const reply = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const taped = [...args];
        return reply.then(
          (answer) => {
            reads.calls.push([property, taped, tapedReply(property, answer)]);
            return answer;
          },
          (error: unknown) => {
            reads.calls.push([property, taped, error instanceof Error ? error.message : String(error), 1]);
            throw error;
          },
        );
      };
    },
  });
}

function recordingClock(now: () => number, reads: TapedReads): () => number {
  return () => {
    const at = now();
    reads.clock.push(at);
    return at;
  };
}

type Taped = { reads: TapedReads; state: TapedReads | undefined; batch: string | undefined };

const emptyReads = (): TapedReads => ({ calls: [], clock: [] });

/**
 * The runtime's DecisionTape: it wraps the decisions' reads so each ctx and batch-state load reads through a recording reader, and a
 * committed delivery becomes a TapeRecord for `sink`. Only what committed is taped: a message run
 * again on fresh data is taped as its last run decided.
 */
export function decisionTape(
  sink: TapeSink,
  onError: (gate: string, error: unknown) => void,
  settingsOf: (gate: string) => string | undefined = () => undefined,
): Omit<DecisionTape, 'flushed'> {
  const ofContext = new WeakMap<object, Taped>();
  const ofState = new WeakMap<object, { reads: TapedReads; batch: string }>();
  /**
   * How much of each batch state's reads the tape holds already. A batch's messages share its
   * state: a record carries its reads only when the tape does not hold them all yet (the batch's
   * first record, or a later one after a read the state made for a message), not each record the
   * whole book again. A rehearsal takes a batch's from the last record that has them.
   */
  const stateTaped = new WeakMap<TapedReads, number>();
  // Unique across this process's batches and other processes' (a replica's tape is the same stream).
  const process = Math.random().toString(36).slice(2, 8);
  let batches = 0;
  return {
    wrap: (inner) => ({
      redis: inner.redis,
      now: inner.now,
      ...(inner.syncClock ? { syncClock: inner.syncClock } : {}),
      message(ctx, state, redis) {
        const given = inner.message(ctx, state, redis);
        const reads = emptyReads();
        const batch = typeof state === 'object' && state !== null ? ofState.get(state) : undefined;
        ofContext.set(ctx, { reads, state: batch?.reads, batch: batch?.batch });
        return { redis: recordingReader(given.redis, reads), now: recordingClock(given.now, reads) };
      },
      batch() {
        const given = inner.batch();
        const reads = emptyReads();
        return {
          redis: recordingReader(given.redis, reads),
          now: recordingClock(given.now, reads),
          loaded(state) {
            if (typeof state === 'object' && state !== null) ofState.set(state, { reads, batch: `${process}.${(batches += 1)}` });
            return given.loaded(state);
          },
        };
      },
    }),
    committed(gate, deliveries: readonly Delivery[]) {
      const records: TapeRecord[] = [];
      for (const delivery of deliveries) {
        try {
          const taped = delivery.recorder ? ofContext.get(delivery.recorder) : undefined;
          const state = taped?.state;
          const size = state ? state.calls.length + state.clock.length : 0;
          const fresh = state !== undefined && stateTaped.get(state) !== size;
          const record = toRecord(gate, delivery, taped, fresh, settingsOf(gate));
          if (record === undefined) continue;
          // Only a record written carries the state: a skipped delivery (a foreign entry) first in its batch leaves it to the next.
          if (fresh) stateTaped.set(state, size);
          records.push(record);
        } catch (error) {
          onError(gate, error);
        }
      }
      if (records.length > 0) sink(gate, records);
    },
  };
}

function toRecord(
  gate: string,
  delivery: Delivery,
  taped: Taped | undefined,
  withState: boolean,
  settings: string | undefined,
): TapeRecord | undefined {
  const { outcome, meta } = delivery;
  if (outcome.kind === 'skipped' || outcome.kind === 'left-pending') return undefined;
  return {
    v: TAPE_VERSION,
    gate,
    id: meta.id,
    producedAt: meta.producedAt,
    raw: meta.raw,
    // A job's input is its data, not fields: taped as given to the schema.
    ...(delivery.data === meta.raw ? {} : { data: delivery.data }),
    outcome: outcome.kind === 'dead-letter' ? `dead-letter:${outcome.reason}` : outcome.kind,
    ...(settings === undefined ? {} : { settings }),
    ...(taped?.batch === undefined ? {} : { batch: taped.batch }),
    ...(withState && taped?.state ? { state: taped.state } : {}),
    reads: taped?.reads ?? emptyReads(),
    effects: delivery.recorder?.effects ?? [],
    jobs: delivery.recorder?.jobs ?? [],
  };
}
