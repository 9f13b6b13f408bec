import { Delivery, type PreparedBatch } from '../engine/delivery.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import type { AnyHandler, MessageMeta } from '../contract/handler.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import type { SourcePipeline } from './pipeline.js';
import type { Batch } from './stream-reader.js';

/** What turning a read batch into deliveries needs of its stream source. */
export interface EntryBatchSource {
  readonly handler: AnyHandler;
  readonly handlerMetrics: object;
  readonly metrics: Pick<RuntimeMetrics, 'batchSize'>;
  readonly pipeline: SourcePipeline;
}

/**
 * Makes one Delivery per entry of a read batch (counting the batch as read) and runs the pipeline
 * over them: validation and the handler.
 */
export function prepareEntries(source: EntryBatchSource, { entries, readAt, deliveries }: Batch): Promise<PreparedBatch> {
  const { handler, metrics } = source;
  metrics.batchSize.observe({ handler: handler.name }, entries.length);
  handler.batch?.onRead?.(source.handlerMetrics, entries.length);
  const batch = entries.map(([id, fieldList]) => {
    const raw = fieldList === null ? {} : fieldsToRecord(fieldList);
    // parseInt stops at the '-': the entry's time in ms.
    const meta = { id, raw, producedAt: Number.parseInt(id, 10) };
    return new Delivery(meta, fieldList === null ? null : raw, deliveries?.get(id) ?? 1, id);
  });
  return source.pipeline.prepare(batch, readAt);
}

/** What each message's log lines carry besides the consumer's bindings. */
export function entryLogFields(meta: MessageMeta): Readonly<Record<string, string | undefined>> {
  return { id: meta.id, plan_id: meta.raw.plan_id, trace_id: meta.raw.trace_id, symbol: meta.raw.symbol };
}
