import type { ScheduledJob } from './effects.js';

/**
 * A decision's jobs of one queue and name, due one after another (the outcome follower's samples,
 * one per horizon), as one BullMQ job that steps through them: added as the first, it carries the
 * others (CHAIN), and once a step commits the job runner moves it back to delayed as the next
 * (job-runner.ts). Each step is decided exactly as a job of its own was: its data, its job id as
 * meta.id (so its done key), its due time (the add's time plus its delay, as BullMQ times a
 * delayed job). What it saves is BullMQ's bookkeeping of the jobs it no longer adds and completes:
 * a followed decision of three horizons cost 256-257 Redis commands as three jobs, 226-233 as one
 * (bench/outcome-follow.ts: inside scripts included, idle taken out): at upstream's rates (0.3
 * proposals/s + 0.6 plans/s, at most 0.9 followed decisions a second) about 25 commands a second fewer. A step that fails for
 * good (its attempts spent: its commit never applied) ends the job, and the steps after it with it.
 */
const CHAIN = 'gates_chain';
/** A later step's own job id and due time (ms), set when the job is moved to it. */
const STEP_ID = 'gates_step_id';
const STEP_DUE = 'gates_step_due';

export interface ChainStep {
  readonly jobId: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** After the job's add, as its own delay would have been. */
  readonly delayMs: number;
}

/** One decision's jobs, those of one queue and name chained (in order of their delays) into the first. */
export function chainJobs(jobs: readonly ScheduledJob[]): ScheduledJob[] {
  if (jobs.length < 2) return [...jobs];
  const chains = new Map<string, ScheduledJob[]>();
  for (const job of jobs) {
    const key = `${job.queue}\n${job.name}`;
    chains.set(key, [...(chains.get(key) ?? []), job]);
  }
  return [...chains.values()].map((chain) => {
    if (chain.length === 1) return chain[0]!;
    const [first, ...rest] = [...chain].sort((a, b) => a.delayMs - b.delayMs);
    const steps: ChainStep[] = rest.map(({ jobId, data, delayMs }) => ({ jobId, data, delayMs }));
    return { ...first!, data: { ...first!.data, [CHAIN]: steps } };
  });
}

/** A job's data as the step it is at: its own fields, its id (the job's, for the first), when it is due, and the steps after it. */
export function stepOf(
  jobId: string,
  data: Readonly<Record<string, unknown>>,
): { readonly id: string; readonly data: Record<string, unknown>; readonly dueAt?: number; readonly next: readonly ChainStep[] } {
  const { [CHAIN]: chain, [STEP_ID]: stepId, [STEP_DUE]: due, ...own } = data;
  return {
    id: typeof stepId === 'string' ? stepId : jobId,
    data: own,
    ...(typeof due === 'number' ? { dueAt: due } : {}),
    next: Array.isArray(chain) ? (chain as ChainStep[]) : [],
  };
}

/** The data of the job moved on to `next`, added at `addedAt`. */
export function nextStepData(addedAt: number, [next, ...rest]: readonly ChainStep[]): Record<string, unknown> {
  return { ...next!.data, [STEP_ID]: next!.jobId, [STEP_DUE]: addedAt + next!.delayMs, ...(rest.length > 0 ? { [CHAIN]: rest } : {}) };
}
