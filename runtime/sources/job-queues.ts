import type { ConnectionOptions, Queue } from 'bullmq';
import type { ScheduledJob } from '../engine/effects.js';
import type { JobSink } from '../engine/settle.js';
import type { BullJobSink } from './bull-job-sink.js';

/**
 * The process's BullMQ queues, with BullMQ itself loaded only on first need. BullMQ (with its
 * Lua scripts and msgpackr) is some 5-6 MiB of heap and its module start-up: a process whose gates
 * have no schedule or queue trigger and commit no ctx.schedule job has no use for it.
 *
 * When it loads: the runtime loads it before starting a gate with a schedule or queue trigger
 * (createRuntime awaits load()); otherwise on the first commit that scheduled a job (add), which
 * is also when the old eager sink opened that job's queue. Until then no queue is open, so
 * allQueues() is empty, as it was before any ctx.schedule: /metrics and the dashboard show the
 * same queues they showed before. queue(name) needs BullMQ loaded and says so otherwise.
 */
export class JobQueues implements JobSink {
  private sink: BullJobSink | undefined;
  private loading: Promise<BullJobSink> | undefined;

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    /** Where a queue's connection errors go; without a listener BullMQ prints each on stderr. */
    private readonly onError: (queue: string, error: Error) => void = () => undefined,
  ) {}

  /** Loads BullMQ once and answers the sink every queue goes through. */
  load(): Promise<BullJobSink> {
    this.loading ??= import('./bull-job-sink.js').then(({ BullJobSink }) => {
      this.sink = new BullJobSink(this.connection, this.prefix, this.onError);
      return this.sink;
    });
    return this.loading;
  }

  /** Whether BullMQ has been loaded in this process (a gate needs it, or a job was scheduled). */
  get loaded(): boolean {
    return this.sink !== undefined;
  }

  /**
   * Adds a commit's jobs (BullJobSink.add). Called only for a commit that scheduled some, so the
   * messages that schedule nothing never come here; once loaded, no further await is added.
   */
  async add(jobs: readonly ScheduledJob[]): Promise<void> {
    const sink = this.sink ?? (await this.load());
    await sink.add(jobs);
  }

  /** Opens (or returns) the Queue for a name; BullMQ must have been loaded (load()). */
  queue(name: string): Queue {
    if (this.sink === undefined)
      throw new Error(`queue ${JSON.stringify(name)}: BullMQ is not loaded in this process yet (await jobs.load() first)`);
    return this.sink.queue(name);
  }

  /** Every queue opened so far: none before BullMQ is loaded. */
  allQueues(): Queue[] {
    return this.sink?.allQueues() ?? [];
  }

  /** Closes every open queue, after a load still under way (a last commit's jobs) has finished. */
  async close(): Promise<void> {
    const sink = this.sink ?? (await this.loading);
    await sink?.close();
  }
}
