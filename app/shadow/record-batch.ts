import type { Redis } from 'ioredis';
import type { Delivery } from '../../runtime/host/replay.js';
import { SHADOW_DEAD_LETTERS, shadowDecisionsKey } from './namespace.js';
import { encodeShadowRecord, SHADOW_RECORD_FIELD, type ShadowRecord } from './record.js';

const DEAD_LETTERS_MAXLEN = 10_000;

/**
 * What a shadow decided of each delivery, as its decisions stream keeps it: a stream gate's batch
 * (gate.ts) and a scheduled gate's tick (ticker.ts) alike. `failed`: deliveries whose decision
 * threw, with why (recorded as the decision, never retried).
 */
export function shadowRecordsOf(
  gate: string,
  deliveries: readonly Delivery[],
  failed: ReadonlyMap<Delivery, string>,
  at: number,
): ShadowRecord[] {
  return deliveries
    .filter((d) => d.data !== null)
    .map((delivery): ShadowRecord => {
      const { outcome, recorder } = delivery;
      const why = failed.get(delivery);
      return {
        v: 1,
        gate,
        id: delivery.meta.id,
        producedAt: delivery.meta.producedAt,
        raw: delivery.meta.raw,
        outcome:
          why !== undefined
            ? `error:${why}`
            : outcome.kind === 'dead-letter' || outcome.kind === 'dead-letter-lost'
              ? `dead-letter:${outcome.reason}`
              : outcome.kind,
        effects: jsonOf(recorder?.effects ?? []),
        jobs: jsonOf(recorder?.jobs ?? []),
        at,
      };
    });
}

/** The records and what would have been dead-lettered, queued on `tx` (the caller adds its own state and executes). */
export function queueShadowRecords(
  tx: ReturnType<Redis['multi']>,
  gate: string,
  maxLen: number,
  records: readonly ShadowRecord[],
  deadLetters: ReadonlyMap<Delivery, string>,
): void {
  for (const record of records)
    tx.xadd(shadowDecisionsKey(gate), 'MAXLEN', '~', maxLen, '*', SHADOW_RECORD_FIELD, encodeShadowRecord(record));
  for (const [delivery, detail] of deadLetters) {
    const reason = delivery.outcome.kind === 'dead-letter' ? delivery.outcome.reason : 'unknown';
    tx.xadd(
      SHADOW_DEAD_LETTERS,
      'MAXLEN',
      '~',
      DEAD_LETTERS_MAXLEN,
      '*',
      'gate',
      gate,
      'source_id',
      delivery.meta.id,
      'reason',
      reason,
      'detail',
      detail,
      'raw',
      JSON.stringify(delivery.meta.raw),
    );
  }
}

/** As the tape carries effects: JSON, so both sides compare alike (no onFail hooks, no undefined fields). */
function jsonOf(value: unknown): unknown[] {
  return JSON.parse(JSON.stringify(value)) as unknown[];
}
