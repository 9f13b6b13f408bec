/**
 * Jobs BullMQ hands a worker at once (its concurrency) are handled and committed as one batch, the
 * way a stream consumer commits a read: one WATCH and one transaction over all their guards, where
 * a commit a job would cost twice the CPU a job and hold due jobs near their floor. Commits stay
 * one at a time (WATCH and MULTI are per connection): jobs arriving while a batch commits wait for
 * the next one. A batch whose commit left something uncommitted (still conflicting, or the runtime
 * stopped) fails every job of it: BullMQ runs them again, and those that did commit are found done
 * by their done keys (idempotency.ts) and not applied twice.
 */
import type { Delivery, PreparedBatch } from '../engine/delivery.js';

/** What a job's message came to: its delivery, committed (its summary is the job's return value), or why it did not commit. */
export type JobBatchResult = { readonly delivery: Delivery } | { readonly error: Error };

export interface JobBatchEnv {
  readonly prepare: (deliveries: readonly Delivery[]) => Promise<PreparedBatch>;
  /** False when some message was left uncommitted (commitBatch). */
  readonly commit: (batch: PreparedBatch) => Promise<boolean>;
  readonly maxBatch: number;
}

export class JobBatcher {
  private waiting: { readonly delivery: Delivery; readonly settle: (result: JobBatchResult) => void }[] = [];
  private running = false;

  constructor(private readonly env: JobBatchEnv) {}

  /** Handles and commits one job's delivery with whatever other jobs are in hand. */
  run(delivery: Delivery): Promise<JobBatchResult> {
    return new Promise((settle) => {
      this.waiting.push({ delivery, settle });
      if (this.running) return;
      this.running = true;
      // The worker starts the jobs it fetched together in one turn of the event loop: the first batch gathers them all.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const taken = this.waiting.splice(0, this.env.maxBatch);
      const complete = await this.env
        .prepare(taken.map((w) => w.delivery))
        .then((batch) => this.env.commit(batch))
        .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
      for (const { delivery, settle } of taken) {
        if (complete instanceof Error) settle({ error: complete });
        else if (delivery.outcome.kind === 'left-pending') settle({ error: new Error('shutting down before the job finished') });
        // BullMQ retries or fails a job that throws; a job whose outputs did not commit must not complete.
        else if (!complete) settle({ error: new Error('the job could not be committed; it is left for a retry') });
        else settle({ delivery });
      }
    }
    this.running = false;
  }
}
