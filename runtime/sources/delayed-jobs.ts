import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { FlatCommand, sendScript } from '../engine/flat-command.js';
import { RespArgs } from '../engine/resp-args.js';
// BullMQ's own script for one delayed job (its includes resolved), run here once per job inside one call.
import { addDelayedJob } from 'bullmq/dist/esm/scripts/addDelayedJob-6.js';

/** A delayed job to add: what Queue.add takes. */
export interface DelayedJob {
  readonly name: string;
  readonly data: unknown;
  readonly opts: JobsOptions & { readonly jobId: string; readonly delay: number };
}

/**
 * BullMQ's addDelayedJob script as a Lua function, called once per job: KEYS are the queue's
 * six (the same for every job of a queue), ARGV three per job (its packed arguments, its data,
 * its packed options), exactly what BullMQ passes to the script for one job. Answers each job's
 * reply in order (its id, or BullMQ's negative error code).
 */
const ADD_DELAYED_JOBS = `
local function add_delayed_job(KEYS, ARGV)
${addDelayedJob.content}
end
local replies = {}
for j = 1, #ARGV, 3 do
  replies[#replies + 1] = add_delayed_job(KEYS, {ARGV[j], ARGV[j + 1], ARGV[j + 2]})
end
return replies
`;

/**
 * ADD_DELAYED_JOBS by its hash, with its keys, then the jobs' arguments already in the protocol's
 * bytes. With ioredis's own eval, the packed arguments (Buffers) made it build the command from a
 * Buffer per piece and join them (~5 µs a job, docs/performance.md); the body went every time.
 */
function runAddDelayedJobs(client: Pick<Redis, 'sendCommand'>, keys: readonly string[], jobArgs: RespArgs): Promise<unknown> {
  return sendScript(
    client,
    ADD_DELAYED_JOBS,
    (name, script) => new FlatCommand(name, [script, String(keys.length), ...keys], jobArgs, 'utf8'),
  );
}

/** What BullMQ would send for one job: its script's name, and its keys and arguments. */
interface Captured {
  readonly command: string;
  readonly args: readonly unknown[];
}

/**
 * The arguments BullMQ's own code builds for a job (Queue.add's option merge, the Job, its
 * options' encoding and validation), captured instead of sent: so the job stored is the one
 * Queue.add would store, byte for byte.
 */
async function capturedAdd(queue: Queue, job: DelayedJob): Promise<Captured> {
  let captured: Captured | undefined;
  // Job.addJob's client: BullMQ runs its scripts through client.runCommand(name, args).
  const capture = {
    runCommand: (command: string, args: unknown[]) => {
      captured = { command, args };
      return Promise.resolve(job.opts.jobId);
    },
  };
  // Queue.addJob's merge of the queue's default options (a protected field of Queue).
  const defaults = (queue as unknown as { readonly jobsOpts?: JobsOptions }).jobsOpts ?? {};
  const opts = { ...defaults, ...job.opts, jobId: job.opts.jobId };
  const instance = new Job(queue, job.name, job.data, opts, opts.jobId);
  // Typed for BullMQ's own clients; it only calls runCommand on it (Scripts.execCommand).
  await instance.addJob(capture as unknown as Parameters<Job['addJob']>[0], { parentKey: undefined, parentDependenciesKey: '' });
  if (captured === undefined) throw new Error('BullMQ sent no command for the job');
  return captured;
}

/**
 * Adds delayed jobs to one queue in one script call instead of one per job, storing each as
 * Queue.add would: BullMQ's own argument building and BullMQ's own script, run once per job in
 * order (a job id already present is left as it is, as Queue.add leaves it). The governor adds a
 * cooldown job for each permit, ~250 a batch: one call spares a command, a promise and an
 * EVALSHA each. Answers false, having added nothing, when BullMQ would store one of them some
 * other way (another script, other keys): the caller then adds them with Queue.add. Throws, like
 * Queue.add, if the script answers an error code for any job; the jobs before it stay added, and
 * adding them again is a no-op (their ids exist).
 */
export async function addDelayedJobs(queue: Queue, jobs: readonly DelayedJob[]): Promise<boolean> {
  if (jobs.length === 0) return true;
  const captured = await Promise.all(jobs.map((job) => capturedAdd(queue, job)));
  const expected = `addDelayedJob:`;
  const keys = captured[0]!.args.slice(0, addDelayedJob.keys);
  // Room before the arguments for EVALSHA's head, so the jobs' bytes go out as they are.
  const jobArgs = new RespArgs(undefined, 512);
  for (const { command, args } of captured) {
    const ownKeys = args.slice(0, addDelayedJob.keys);
    if (!command.startsWith(expected) || ownKeys.some((key, k) => key !== keys[k])) return false;
    // As ioredis sends an argument: bytes as they are, anything else as its text.
    for (let a = addDelayedJob.keys; a < args.length; a++) {
      const arg = args[a];
      if (arg instanceof Uint8Array) jobArgs.addBytes(arg);
      else jobArgs.add(String(arg));
    }
  }
  // BullMQ types its client as its own abstraction; on a single node (the only place jobs are
  // added from) it is the ioredis connection the Queue was given.
  const client = (await queue.client) as unknown as Pick<Redis, 'sendCommand'>;
  const replies = (await runAddDelayedJobs(client, keys as string[], jobArgs)) as unknown[];
  for (const reply of replies) {
    if (typeof reply === 'number' && reply < 0) throw new Error(`BullMQ could not add a delayed job (code ${reply})`);
  }
  return true;
}
