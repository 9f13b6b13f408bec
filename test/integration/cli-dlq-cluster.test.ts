import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterFields } from '../../runtime/engine/dead-letter.js';
import { streams } from '../../schemas/keys.js';
import { startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { readStream } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

const DLQ = streams.deadLetter;
/** A source in another slot than the dead-letter stream, as on a real cluster. */
const SOURCE = 'test:stream:orders';

describe('quantum-gates dlq replay on a Redis Cluster', () => {
  let cluster: TestRedisCluster;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('leaves the dead letter when the write to the source fails, and moves it once it can', async () => {
    const r = cluster.client;
    const sourceId = '1700000000000-0';
    const fields = deadLetterFields({
      handler: 'orders',
      sourceStream: SOURCE,
      sourceId,
      group: 'orders',
      reason: 'handler_failed',
      detail: 'Error: downstream unavailable',
      attempts: 3,
      raw: { n: '1' },
      at: Date.now(),
    });
    const id = (await r.xadd(DLQ, '*', ...Object.entries(fields).flat()))!;
    await r.set(SOURCE, 'not a stream');
    const env = { REDIS_CLUSTER_NODES: cluster.nodes };

    const refused = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/WRONGTYPE.*stays in the dead-letter stream/);
    expect(await r.xrange(DLQ, id, id)).toHaveLength(1);

    await r.del(SOURCE);
    const moved = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);

    expect(moved.code, moved.stderr).toBe(0);
    expect(await r.xrange(DLQ, id, id)).toHaveLength(0);
    expect(await readStream(r, SOURCE)).toEqual([expect.objectContaining({ n: '1', original_id: sourceId, replayed_from: id })]);
    expect(await r.exists(`${DLQ}:replaying:${id}`)).toBe(0);
  });
});
