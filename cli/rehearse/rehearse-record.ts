import type { AnyHandler } from '../../runtime/host/index.js';
import { createRegistry, MessageContext, promMetricFactory } from '../../runtime/host/replay.js';
import type { TapeRecord, TapedReads } from '../../app/cli-door.js';
import { ReplyBook, replayClock, replayReader, UnanswerableRead } from './replay-reader.js';

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
type Recorded = { readonly effects: unknown; readonly jobs: unknown };

/**
 * Runs the rehearsed gate on the taped entries of one batch as the runtime did (unusable check,
 * schema; then one batch state for all, and `handle` for each in order; its failure policy when it
 * throws), every read answered from the tape and every clock reading the taped one, the effects
 * recorded and written nowhere. A decision that ended in its fallback is rehearsed as that
 * fallback: the failure is taped, not the reads before it.
 */
export async function rehearseBatch(gate: RehearsedGate, records: readonly TapeRecord[]): Promise<Rehearsal[]> {
  const { handler } = gate;
  const failure = handler.failure;
  // The batch state's reads as the last record carrying them saw them (they grow as its messages are decided).
  const stateReads: TapedReads | undefined = records.findLast((r) => r.state !== undefined)?.state;
  const stateBook = new ReplyBook(stateReads);
  const ctxOf = <State>(record: TapeRecord, state: State) =>
    new MessageContext<unknown, State, object>(
      {
        redis: replayReader(new ReplyBook(record.reads), stateBook),
        config: gate.config,
        metrics: gate.metrics,
        now: replayClock(record.reads, record.producedAt),
        logger: () => quiet,
      },
      state,
      { id: record.id, raw: record.raw, producedAt: record.producedAt },
    );
  const done = (outcome: string, ctx: Recorded | undefined): Rehearsal => ({
    outcome,
    effects: ctx ? jsonOf(ctx.effects) : [],
    jobs: ctx ? jsonOf(ctx.jobs) : [],
  });
  const unanswerable = (error: unknown): Rehearsal => {
    if (error instanceof UnanswerableRead) return { unanswerable: error.read };
    throw error;
  };

  const results: (Rehearsal | undefined)[] = [];
  const toHandle: { at: number; record: TapeRecord; message: unknown }[] = [];
  for (const record of records) {
    try {
      results.push(await beforeHandle(record));
    } catch (error) {
      results.push(unanswerable(error));
    }
  }
  async function beforeHandle(record: TapeRecord): Promise<Rehearsal | undefined> {
    // The runtime gave up on it before any gate saw it: nothing of the gate's to rehearse.
    if (record.outcome === 'dead-letter:too_many_deliveries')
      return { outcome: record.outcome, effects: record.effects, jobs: record.jobs };
    if (failure.unusable) {
      const ctx = ctxOf(record, undefined);
      if (await failure.unusable(record.raw, ctx)) return done('unusable', ctx);
    }
    const parsed = handler.input.safeParse('data' in record ? record.data : record.raw);
    if (!parsed.success) {
      const ctx = ctxOf(record, undefined);
      await failure.rejected?.(record.raw, ctx);
      return done('dead-letter:invalid_input', failure.rejected ? ctx : undefined);
    }
    if (record.outcome === 'fallback' && failure.policy !== 'dead-letter') {
      const ctx = ctxOf(record, undefined);
      await failure.fallback(parsed.data, { error: new Error('failed when it ran'), attempts: failure.maxAttempts }, ctx);
      return done('fallback', ctx);
    }
    toHandle.push({ at: results.length, record, message: parsed.data });
    return undefined;
  }
  if (toHandle.length === 0) return results as Rehearsal[];

  let state: unknown;
  const load = handler.batch?.loadState;
  try {
    const first = toHandle[0]!.record;
    state = load
      ? await load(replayReader(stateBook, new ReplyBook(first.reads)), gate.config, replayClock(stateReads, first.producedAt)())
      : undefined;
  } catch (error) {
    for (const { at } of toHandle) results[at] = unanswerable(error);
    return results as Rehearsal[];
  }
  for (const { at, record, message } of toHandle) {
    const ctx = ctxOf(record, state);
    // A job's first clock reading is the runtime's, marking it done (idempotency.ts guard), before `handle`.
    if (handler.trigger.kind !== 'stream') ctx.now();
    try {
      await handler.handle(message, ctx);
      results[at] = done('handled', ctx);
    } catch (error) {
      if (error instanceof UnanswerableRead) {
        results[at] = unanswerable(error);
        continue;
      }
      if (failure.policy === 'dead-letter') {
        results[at] = done('dead-letter:handler_failed', undefined);
        continue;
      }
      const fallbackCtx = ctxOf(record, undefined);
      try {
        await failure.fallback(message, { error, attempts: failure.maxAttempts }, fallbackCtx);
        results[at] = done('fallback', fallbackCtx);
      } catch (fallbackError) {
        results[at] =
          fallbackError instanceof UnanswerableRead ? unanswerable(fallbackError) : done('dead-letter:fallback_failed', undefined);
      }
    }
  }
  return results as Rehearsal[];
}

/** As the tape carries them: JSON, so both sides compare alike (no onFail hooks, no undefined fields). */
function jsonOf(value: unknown): unknown[] {
  return JSON.parse(JSON.stringify(value)) as unknown[];
}
