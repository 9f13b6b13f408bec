import type { AnyHandler, RedisReader } from '../../runtime/host/index.js';
import {
  createRegistry,
  decideBatch,
  Delivery,
  jobDoneKey,
  promMetricFactory,
  type DeadLetterReason,
  type DecisionEnv,
  type Reads,
} from '../../runtime/host/replay.js';
import type { TapeRecord } from '../../app/cli-door.js';
import { ReplyBook, replayClock, replayReader } from './replay-reader.js';

/** A gate of the rehearsed release, with its settings and metrics made once for the whole rehearsal. */
export interface RehearsedGate {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

export function rehearsedGate(handler: AnyHandler, env: Readonly<Record<string, string | undefined>>): RehearsedGate {
  const config: unknown = handler.config(env);
  // A registry of its own: the metrics are the gate's to update, and nobody scrapes them.
  return { handler, config, metrics: handler.metrics(promMetricFactory(createRegistry()), config) as object };
}

/** What the rehearsed code decided for one taped entry, or the read it made that the tape cannot answer. */
export type Rehearsal =
  { readonly outcome: string; readonly effects: readonly unknown[]; readonly jobs: readonly unknown[] } | { readonly unanswerable: string };

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Outcomes the runtime reached after `handle` failed: its failed attempts' reads are not taped, the failure is. */
const FAILED_WHEN_RUN = new Set(['fallback', 'dead-letter:handler_failed', 'dead-letter:fallback_failed']);

/** Never read: every ctx and batch state of a rehearsal reads through the tape (Reads); the reads named ahead are sent here and refused. */
const noReader = new Proxy({} as RedisReader, {
  get: () => () => Promise.reject(new Error('a rehearsal reads only through its tape')),
});

/**
 * Runs the rehearsed gate on the taped entries of one batch through the engine's own decideBatch,
 * as the runtime did (unusable check, schema, one batch state for all, idempotency, `handle` for
 * each in order, its failure policy when it throws): only its reader and clock differ, answered
 * from the tape, and its effects are recorded and written nowhere. A decision the tape holds as
 * its fallback is given that failure (Delivery.failedBefore); one delivered too often, its count.
 */
export async function rehearseBatch(gate: RehearsedGate, records: readonly TapeRecord[]): Promise<Rehearsal[]> {
  const { handler } = gate;
  const byId = new Map(records.map((r) => [r.id, r]));
  // The batch state's reads as the last record carrying them saw them (they grow as its messages are decided).
  const stateReads = records.findLast((r) => r.state !== undefined)?.state;
  const stateBook = new ReplyBook(stateReads);
  const first = records.find((r) => r.outcome === 'handled') ?? records[0]!;
  /** The first read of each decision the tape had no reply for (and of the batch state's load). */
  const missed = new Map<string, string>();
  let stateMissed: string | undefined;
  const answering: Reads = {
    redis: noReader,
    now: () => first.producedAt,
    message(ctx) {
      const record = byId.get(ctx.meta.id)!;
      const miss = (read: string) => void (missed.has(record.id) || missed.set(record.id, read));
      return { redis: replayReader(new ReplyBook(record.reads), stateBook, miss), now: replayClock(record.reads, record.producedAt) };
    },
    batch() {
      const miss = (read: string) => void (stateMissed ??= read);
      return {
        redis: replayReader(stateBook, new ReplyBook(first.reads), miss),
        now: replayClock(stateReads, first.producedAt),
        loaded: (state) => state,
      };
    },
  };
  const trigger = handler.trigger;
  // No pace: nothing waits, and a taped refusal of Redis's own state (held by the runtime until
  // Redis answered) leaves its message pending rather than holding the rehearsal for ever.
  const env: DecisionEnv = {
    reads: answering,
    config: gate.config,
    metrics: gate.metrics,
    logger: () => quiet,
    doneKey: trigger.kind === 'stream' ? undefined : (meta) => jobDoneKey(trigger.queue, meta.id),
  };
  const deliveries = records.map((record) => {
    const tooMany = record.outcome === 'dead-letter:too_many_deliveries';
    const data = 'data' in record ? record.data : record.raw;
    const delivery = new Delivery({ id: record.id, raw: record.raw, producedAt: record.producedAt }, data, tooMany ? 2 : 1, undefined);
    if (FAILED_WHEN_RUN.has(record.outcome))
      delivery.failedBefore = { error: new Error('failed when it ran'), attempts: handler.failure.maxAttempts };
    return delivery;
  });
  const reject = (delivery: Delivery, reason: DeadLetterReason) => {
    delivery.recorder = undefined;
    delivery.outcome = { kind: 'dead-letter', reason };
  };
  // A message the rehearsed release would decide only once those before it committed (an earlier
  // one decided otherwise wrote what it reads: a shared run's end) is decided on the state the
  // tape holds, as every taped decision is rehearsed on what it read, not on what this release's
  // other decisions would have written.
  for (let run: readonly Delivery[] = deliveries; run.length > 0;) run = await decideBatch(handler, env, run, reject, { maxDeliveries: 1 });
  return deliveries.map((delivery): Rehearsal => {
    const read = missed.get(delivery.meta.id) ?? (delivery.valid ? stateMissed : undefined);
    if (read !== undefined) return { unanswerable: read };
    const { outcome, recorder } = delivery;
    if (outcome.kind === 'left-pending')
      return { unanswerable: 'a read Redis refused for its own state (the runtime held it until Redis answered)' };
    return {
      outcome: outcome.kind === 'dead-letter' || outcome.kind === 'dead-letter-lost' ? `dead-letter:${outcome.reason}` : outcome.kind,
      effects: jsonOf(recorder?.effects ?? []),
      jobs: jsonOf(recorder?.jobs ?? []),
    };
  });
}

/** As the tape carries them: JSON, so both sides compare alike (no onFail hooks, no undefined fields). */
function jsonOf(value: unknown): unknown[] {
  return JSON.parse(JSON.stringify(value)) as unknown[];
}
