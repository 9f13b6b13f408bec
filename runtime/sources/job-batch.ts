/**
 * Jobs BullMQ hands a worker at once (its concurrency) are handled and committed as one batch,
 * the way a stream consumer commits a read: one transaction, one WATCH over all their guards,
 * instead of one round trip and one transaction per job. Commits stay one at a time, which the
 * committer needs (WATCH and MULTI are per connection): jobs arriving while a batch commits wait
 * for the next one.
 *
 * Each job learns what became of its own message. A batch whose commit left something uncommitted
 * (commitBatch answers false: still conflicting, or the runtime stopped) fails every job of it:
 * BullMQ runs them again, and those that did commit are found done by their done keys
 * (idempotency.ts) and not applied twice.
 */
import type { Delivery, PreparedBatch } from '../engine/delivery.js';

/** What a job's message came to: its delivery, committed (read by jobSummary), or why it did not commit. */
export type JobBatchResult = { readonly delivery: Delivery } | { readonly error: Error };

export interface JobBatchEnv {
  /** Validates and handles the deliveries (prepareBatch). */
  readonly prepare: (deliveries: readonly Delivery[]) => Promise<PreparedBatch>;
  /** Commits a prepared batch; false when some message was left uncommitted (commitBatch). */
  readonly commit: (batch: PreparedBatch) => Promise<boolean>;
  /** At most this many jobs in one batch. */
  readonly maxBatch: number;
}

interface Waiting {
  readonly delivery: Delivery;
  readonly settle: (result: JobBatchResult) => void;
}

export class JobBatcher {
  private waiting: Waiting[] = [];
  private running = false;

  constructor(private readonly env: JobBatchEnv) {}

  /** Handles and commits one job's delivery with whatever other jobs are in hand. */
  run(delivery: Delivery): Promise<JobBatchResult> {
    return new Promise((settle) => {
      this.waiting.push({ delivery, settle });
      // The worker starts the jobs it fetched together in one turn of the event loop: the first
      // batch gathers all of them.
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const taken = this.waiting.splice(0, this.env.maxBatch);
        await this.runBatch(taken);
      }
    } finally {
      this.running = false;
    }
  }

  private async runBatch(taken: readonly Waiting[]): Promise<void> {
    let complete: boolean;
    try {
      const batch = await this.env.prepare(taken.map((w) => w.delivery));
      complete = await this.env.commit(batch);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const w of taken) w.settle({ error: failure });
      return;
    }
    for (const { delivery, settle } of taken) {
      if (delivery.outcome.kind === 'left-pending') settle({ error: new Error('shutting down before the job finished') });
      // BullMQ retries or fails a job that throws; a job whose outputs did not commit must not complete.
      else if (!complete) settle({ error: new Error('the job could not be committed; it is left for a retry') });
      else settle({ delivery });
    }
  }
}
