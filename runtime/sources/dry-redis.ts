import { ReplyError, type Command } from 'ioredis';
import type { SampleRedis } from '../contract/warm-up.js';
import type { RedisClient } from '../engine/connection.js';
import { SampleRedisReader } from './sample-redis-reader.js';

/**
 * What a warm-up's pipeline and committer are given in place of a connection: reads answered from
 * the gate's sample, and every command built and encoded to the bytes a socket would get (resp.ts),
 * then dropped. Nothing reaches a Redis. A batch's commit (the batch script's EVALSHA) answers as
 * if all of it applied; anything else sent is refused, so a read script falls back to the gate's
 * plain reads, and a transaction (WATCH, an oversized batch) ends that warm-up batch unapplied.
 */
export class DryRedis extends SampleRedisReader {
  /** As ioredis says of a usable connection: the pipeline and the committer check it. */
  readonly status = 'ready';
  /** Commands built and dropped, and their bytes (tests). */
  built = 0;
  bytes = 0;

  constructor(sample: SampleRedis) {
    super(sample);
  }

  sendCommand(command: Command): Promise<unknown> {
    this.bytes += command.toWritable({}).length;
    this.built += 1;
    // RUN_BATCH's answer with every item applied: nothing failed, lost, superseded, withheld,
    // waiting or refused, nothing trimmed (batch-script.ts).
    if (command.name === 'evalsha') return Promise.resolve([[], [], [], [], [], [], 0]);
    return Promise.reject(new ReplyError(`ERR a warm-up sends nothing (${command.name})`));
  }

  /** This stand-in as the client type the pipeline and the committer are written against; they use only the members above. */
  asClient(): RedisClient {
    return this as unknown as RedisClient;
  }
}
