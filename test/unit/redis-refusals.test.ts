import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  isRedisStateRefusal,
  redisFailureCause,
  REDIS_STATE_CAUSES,
  type RedisFailureCause,
} from '../../runtime/contract/redis-refusals.js';
import { classifyRedisError } from '../../runtime/engine/redis-errors.js';

/**
 * runtime/contract/redis-refusals.ts by its own rule: Redis's state is held, the message's is not.
 * Each text is Redis's (or ioredis's) own wording, as the gates meet it.
 */
const CASES: [text: string, cause: RedisFailureCause, redisState: boolean][] = [
  // Issue #71 item 4: what was `other`, the message's fault, charged to it.
  ['NOREPLICAS Not enough good replicas to write.', 'noreplicas', true],
  ['ERR max number of clients reached', 'unavailable', true],
  ['NOAUTH Authentication required.', 'auth', true],
  ['WRONGPASS invalid username-password pair or user is disabled.', 'auth', true],
  ['ERR Redis is shutting down', 'unavailable', true],
  ['SHUTDOWN in progress', 'unavailable', true],
  // A module's own error is its judgement of the command and its keys: the message's.
  ["ERR could not perform this operation on a key that doesn't exist", 'other', false],
  ["ERR unknown command 'JSON.SET', with args beginning with: ", 'other', false],
  // A module wording Redis's state as Redis does is classed by those words.
  ['LOADING Redis is loading the dataset in memory', 'busy', true],
  // Those classed before.
  ["MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", 'misconf', true],
  ["OOM command not allowed when used memory > 'maxmemory'.", 'oom', true],
  ["READONLY You can't write against a read only replica.", 'readonly', true],
  ["NOPERM User gates has no permissions to run the 'rename' command", 'noperm', true],
  ['ERR ACL failure in script: No permissions to access a key script: 1', 'noperm', true],
  ["MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", 'unavailable', true],
  ['CLUSTERDOWN The cluster is down', 'unavailable', true],
  ['TRYAGAIN Multiple keys request during rehashing of slot', 'unavailable', true],
  ['BUSY Redis is busy running a script.', 'busy', true],
  ['Connection is closed.', 'connection', true],
  ['Command timed out', 'timeout', true],
  ['WRONGTYPE Operation against a key holding the wrong kind of value', 'wrongtype', false],
  ['NOGROUP No such key or consumer group', 'nogroup', false],
  ['ERR user_script:1: Script attempted to access nonexistent global variable', 'script', false],
  ['ERR syntax error', 'other', false],
];

describe('the classifier of Redis refusals, text by text', () => {
  it.each(CASES)('%s → %s (Redis’s state: %s)', (text, cause, redisState) => {
    expect(redisFailureCause(new ReplyError(text))).toBe(cause);
    expect(isRedisStateRefusal(new ReplyError(text))).toBe(redisState);
    expect(REDIS_STATE_CAUSES.includes(cause)).toBe(redisState);
    expect(classifyRedisError(new ReplyError(text))).toMatchObject({ cause, redisState });
  });

  it('a refusal of writes by too few replicas is a write refusal /ready names, as OOM and READONLY', () => {
    expect(classifyRedisError(new ReplyError('NOREPLICAS Not enough good replicas to write.')).refusesWrites).toBe(true);
    expect(classifyRedisError(new ReplyError('NOAUTH Authentication required.')).refusesWrites).toBe(false);
  });

  it('EXECABORT carries the cause of the command it refused', () => {
    expect(
      redisFailureCause('EXECABORT Transaction discarded because of previous errors: NOREPLICAS Not enough good replicas to write.'),
    ).toBe('noreplicas');
  });
});
