import type { DecisionTape, Delivery, RedisReader } from '../../runtime/host/index.js';
import { READ_METHODS, readArgs, type TapeRecord, type TapedReads } from './format.js';

/** Where records go: never waits, never throws (app/tape/store.ts). */
export type TapeSink = (gate: string, record: TapeRecord) => void;

/** A reader that notes each reply (or rejection) in `reads`, passing everything else through. */
function recordingReader(redis: RedisReader, reads: TapedReads): RedisReader {
  return new Proxy(redis, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !READ_METHODS.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const reply = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const taped = readArgs(property, args);
        return reply.then(
          (answer) => {
            reads.calls.push([property, taped, answer]);
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

const emptyReads = (): TapedReads => ({ calls: [], clock: [] });

/**
 * The runtime's DecisionTape: each ctx and batch-state load reads through a recording reader, and a
 * committed delivery becomes a TapeRecord for `sink`. Only what committed is taped: a message run
 * again on fresh data is taped as its last run decided.
 */
export function decisionTape(sink: TapeSink, onError: (gate: string, error: unknown) => void): DecisionTape {
  const ofContext = new WeakMap<object, { reads: TapedReads; state: TapedReads | undefined }>();
  const ofState = new WeakMap<object, TapedReads>();
  return {
    message(ctx, state, redis, now) {
      const reads = emptyReads();
      const stateReads = typeof state === 'object' && state !== null ? ofState.get(state) : undefined;
      ofContext.set(ctx, { reads, state: stateReads });
      return { redis: recordingReader(redis, reads), now: recordingClock(now, reads) };
    },
    batch(redis, now) {
      const reads = emptyReads();
      return {
        redis: recordingReader(redis, reads),
        now: recordingClock(now, reads),
        loaded(state) {
          if (typeof state === 'object' && state !== null) ofState.set(state, reads);
          return state;
        },
      };
    },
    committed(gate, deliveries: readonly Delivery[]) {
      for (const delivery of deliveries) {
        try {
          const record = toRecord(gate, delivery, delivery.recorder ? ofContext.get(delivery.recorder) : undefined);
          if (record) sink(gate, record);
        } catch (error) {
          onError(gate, error);
        }
      }
    },
  };
}

function toRecord(
  gate: string,
  delivery: Delivery,
  taped: { reads: TapedReads; state: TapedReads | undefined } | undefined,
): TapeRecord | undefined {
  const { outcome, meta } = delivery;
  if (outcome.kind === 'skipped' || outcome.kind === 'left-pending') return undefined;
  return {
    v: 1,
    gate,
    id: meta.id,
    producedAt: meta.producedAt,
    raw: meta.raw,
    outcome: outcome.kind === 'dead-letter' ? `dead-letter:${outcome.reason}` : outcome.kind,
    ...(taped?.state ? { state: taped.state } : {}),
    reads: taped?.reads ?? emptyReads(),
    effects: delivery.recorder?.effects ?? [],
    jobs: delivery.recorder?.jobs ?? [],
  };
}
