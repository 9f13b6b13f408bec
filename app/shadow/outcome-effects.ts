import type { Redis } from 'ioredis';
import type { Delivery } from '../../runtime/host/replay.js';
import { parseDueSample } from '../../handlers/outcomes/due.js';
import { sampleJobId } from '../../handlers/outcomes/follow-up.js';
import { keys } from '../../schemas/keys.js';
import { SHADOW_OUTCOME_JOBS, SHADOW_OUTCOMES, shadowOutcomeKey } from './namespace.js';

type Recorder = NonNullable<Delivery['recorder']>;
type Effect = Recorder['effects'][number];

/** What the follow-ups' effects are applied as: their stream and queue, and the bound of the shadow's sample stream. */
export interface OutcomeTargets {
  /** OUTCOME_STREAM: what a follow-up emits there is kept in SHADOW_OUTCOMES. */
  readonly stream: string;
  /** OUTCOME_QUEUE: the sample jobs, kept in SHADOW_OUTCOME_JOBS until due. */
  readonly queue: string;
  readonly maxLen: number;
}

/** A sample job as SHADOW_OUTCOME_JOBS keeps it: the job's id (ZADD keeps one of each) and its data. */
export interface ShadowOutcomeJob {
  readonly jobId: string;
  readonly data: Readonly<Record<string, unknown>>;
}

const ownKey = (key: string): string => {
  const own = shadowOutcomeKey(key);
  // A follow-up writes only its own keys (handlers/outcomes); anything else would be a pipeline key.
  if (own === undefined) throw new Error(`a shadow follow-up wrote ${key}, outside the follow-ups' keys: not applied`);
  return own;
};

/**
 * A shadow follow-up's or sample's recorded effects (handlers/outcomes, decided by the engine's
 * decideBatch), queued on `tx` under the shadow's namespace, never where the live follow-ups
 * write: their keys under quantum:shadow:outcome:, their samples in SHADOW_OUTCOMES (bounded as
 * the shadow's decisions are), their jobs in SHADOW_OUTCOME_JOBS, due at `now` + the job's delay.
 * Guards are not sent: the shadow's follow-ups run one at a time in one process (outcomes.ts), so
 * nothing lands between a follow-up's reads and its writes. Throws on anything else, before
 * queuing a write of it.
 */
export function queueOutcomeEffects(tx: ReturnType<Redis['multi']>, recorder: Recorder, targets: OutcomeTargets, now: number): void {
  const commands = recorder.effects.map((effect) => commandsOf(effect, targets));
  for (const job of recorder.jobs) if (job.queue !== targets.queue) throw new Error(`a shadow follow-up scheduled a job on ${job.queue}`);
  for (const list of commands) for (const [command, ...args] of list) tx.call(command!, ...args);
  for (const job of recorder.jobs) {
    const kept: ShadowOutcomeJob = { jobId: job.jobId, data: job.data };
    tx.zadd(SHADOW_OUTCOME_JOBS, now + Math.max(0, job.delayMs), JSON.stringify(kept));
  }
}

const expire = (key: string, ttlSec: number | undefined): string[][] => (ttlSec === undefined ? [] : [['EXPIRE', key, String(ttlSec)]]);

function commandsOf(effect: Effect, targets: OutcomeTargets): string[][] {
  switch (effect.op) {
    case 'emit':
      if (effect.stream !== targets.stream) throw new Error(`a shadow follow-up emitted to ${effect.stream}: not applied`);
      return [['XADD', SHADOW_OUTCOMES, 'MAXLEN', '~', String(targets.maxLen), '*', ...Object.entries(effect.fields).flat()]];
    case 'setKey': {
      const key = ownKey(effect.key);
      return [['SET', key, effect.value, ...(effect.ttlSec === undefined ? [] : ['EX', String(effect.ttlSec)])]];
    }
    case 'putHash': {
      const key = ownKey(effect.key);
      return [
        ...(effect.replace ? [['DEL', key]] : []),
        ['HSET', key, ...Object.entries(effect.fields).flat()],
        ...expire(key, effect.ttlSec),
      ];
    }
    case 'addToSortedSet': {
      // A sample to take (follow-up.ts dueSample) is the shadow's sample job, as the live sweep takes it.
      if (effect.key === keys.outcomeDue) return [['ZADD', SHADOW_OUTCOME_JOBS, String(effect.score), shadowJobOf(effect.member)]];
      const key = ownKey(effect.key);
      return [['ZADD', key, String(effect.score), effect.member], ...expire(key, effect.ttlSec)];
    }
    case 'trimSortedSet':
      return [['ZREMRANGEBYSCORE', ownKey(effect.key), '-inf', String(effect.maxScore)]];
    default:
      throw new Error(`a shadow follow-up's ${effect.op} is not one the follow-ups make: not applied`);
  }
}

/** A member of keys.outcomeDue (a sample job's data) as SHADOW_OUTCOME_JOBS keeps a job. */
function shadowJobOf(member: string): string {
  const data = parseDueSample(member);
  if (data === undefined) throw new Error(`a shadow follow-up's due sample is none: ${member.slice(0, 200)}: not applied`);
  const kept: ShadowOutcomeJob = { jobId: sampleJobId(data.id, data.horizon), data };
  return JSON.stringify(kept);
}
