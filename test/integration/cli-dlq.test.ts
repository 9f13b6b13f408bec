import { z } from 'zod';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { deadLetterFields, DEAD_LETTER_VALUE_LIMIT } from '../../runtime/dead-letter.js';
import { parseEnv } from '../../runtime/env.js';
import { defineHandler } from '../../runtime/handler.js';
import type { Runtime } from '../../runtime/runtime.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

const DLQ = streams.deadLetter;
const SOURCE = 'test:stream:orders';

interface Listed {
  stream: string;
  total: number;
  entries: { id: string; handler: string; reason: string; source_stream: string; source_id: string; truncated: boolean; fields: Record<string, string> }[];
}

describe('quantum-gates dlq', () => {
  const redis = usePrivateRedis();
  let env: Record<string, string>;
  const running: Runtime[] = [];

  /** Writes a dead letter exactly as the runtime does; returns its id in the DLQ. */
  async function deadLetter(raw: Record<string, string>, over: Partial<Parameters<typeof deadLetterFields>[0]> = {}): Promise<string> {
    const sourceId = over.sourceId ?? (await redis.client.xadd(SOURCE, '*', ...Object.entries(raw).flat()))!;
    const fields = deadLetterFields({
      handler: 'orders',
      sourceStream: SOURCE,
      sourceId,
      group: 'orders',
      reason: 'handler_failed',
      detail: 'Error: downstream unavailable',
      attempts: 3,
      raw,
      at: Date.now(),
      ...over,
    });
    return (await redis.client.xadd(DLQ, '*', ...Object.entries(fields).flat()))!;
  }

  beforeAll(() => {
    env = { REDIS_URL: redis.url };
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('lists dead letters newest first, filtered by reason and handler', async () => {
    const a = await deadLetter({ n: '1' });
    const b = await deadLetter({ n: '2' }, { reason: 'invalid_input', handler: 'heat-gate' });
    const c = await deadLetter({ n: '3' });

    const all = await runCliJson<Listed>(['dlq', 'list'], env);
    expect(all.total).toBe(3);
    expect(all.entries.map((e) => e.id)).toEqual([c, b, a]);
    expect(all.entries[0]).toMatchObject({ handler: 'orders', reason: 'handler_failed', source_stream: SOURCE, fields: { n: '3' }, truncated: false });

    expect((await runCliJson<Listed>(['dlq', 'list', '--reason', 'invalid_input'], env)).entries.map((e) => e.id)).toEqual([b]);
    expect((await runCliJson<Listed>(['dlq', 'list', '--handler', 'orders', '--limit', '1'], env)).entries.map((e) => e.id)).toEqual([c]);
  });

  it('lists as a table for people', async () => {
    const id = await deadLetter({ n: '1' });

    const result = await runCli(['dlq', 'list'], env);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ID\s+DEAD-LETTERED\s+HANDLER\s+REASON\s+TRIES\s+SOURCE\s+ERROR$/m);
    expect(result.stdout).toContain(id);
    expect(result.stdout).toContain('Error: downstream unavailable');
    expect(result.stdout).toContain(`1 shown, 1 in ${DLQ}`);
  });

  it('lists what the heat gate really dead-letters: a proposal it cannot read', async () => {
    running.push(await startRuntime(redis.url, {}, [heatGate]));
    await redis.client.xadd(streams.harvestProposal, '*', 'symbol', 'eth usdt', 'action', 'FULL_CLOSE', 'plan_id', 'bad1');

    const listed = await waitFor(async () => {
      const out = await runCliJson<Listed>(['dlq', 'list', '--handler', 'heat-gate'], env);
      return out.entries.length > 0 ? out : undefined;
    });
    expect(listed.entries[0]).toMatchObject({ reason: 'invalid_input', source_stream: streams.harvestProposal, fields: { plan_id: 'bad1', symbol: 'eth usdt' } });
  });

  it('shows one entry with why it failed and its original fields', async () => {
    const id = await deadLetter({ n: '7', symbol: 'BTCUSDT' });

    const result = await runCli(['dlq', 'show', id], env);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^reason\s+handler_failed$/m);
    expect(result.stdout).toContain('  symbol = BTCUSDT');
    expect((await runCliJson(['dlq', 'show', id], env)).fields).toEqual({ n: '7', symbol: 'BTCUSDT' });
  });

  it.each([
    ['show of an id not in the DLQ', 1, ['dlq', 'show', '1-0'], /1-0 is not in the dead-letter stream/],
    ['show of a malformed id', 2, ['dlq', 'show', 'latest'], /not a stream entry id: latest/],
    ['show without an id', 2, ['dlq', 'show'], /expects exactly one entry id/],
    ['replay without ids', 2, ['dlq', 'replay'], /expects entry ids, or --all/],
    ['replay with ids and --all', 2, ['dlq', 'replay', '1-0', '--all'], /not both/],
    ['replay filtering without --all', 2, ['dlq', 'replay', '1-0', '--reason', 'x'], /for --all only/],
    ['drop --all without --yes', 2, ['dlq', 'drop', '--all'], /add --yes to confirm/],
    ['a bad --limit', 2, ['dlq', 'list', '--limit', '0'], /--limit must be a whole number/],
    ['an unknown dlq command', 2, ['dlq', 'purge'], /unknown dlq command "purge"/],
  ])('refuses %s with exit %s', async (_case, code, args, message) => {
    const id = await deadLetter({ n: '1' });

    const result = await runCli(args, env);

    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(await redis.client.xrange(DLQ, id, id)).toHaveLength(1);
  });

  it('replays an entry to its source stream with its original fields and removes it from the DLQ', async () => {
    const id = await deadLetter({ n: '1', symbol: 'ETHUSDT' });

    const out = await runCliJson<{ replayed: { id: string; stream: string; new_id: string }[]; refused: unknown[] }>(['dlq', 'replay', id], env);

    expect(out.refused).toEqual([]);
    expect(out.replayed).toEqual([{ id, stream: SOURCE, new_id: expect.stringMatching(/^\d+-\d+$/) }]);
    const source = await readStream(redis.client, SOURCE);
    expect(source.at(-1)).toEqual({ _id: out.replayed[0]!.new_id, n: '1', symbol: 'ETHUSDT' });
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  it('replays once: a second replay of the same id is refused with exit 1', async () => {
    const id = await deadLetter({ n: '1' });
    expect((await runCli(['dlq', 'replay', id], env)).code).toBe(0);

    const again = await runCli(['dlq', 'replay', id], env);

    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`refused ${id}: not in the dead-letter stream`);
    expect(await redis.client.xlen(SOURCE)).toBe(2);
  });

  it('refuses a truncated entry unless --from-source, which replays the original', async () => {
    const big = 'x'.repeat(DEAD_LETTER_VALUE_LIMIT + 10);
    const id = await deadLetter({ n: '1', payload: big });

    const refused = await runCli(['dlq', 'replay', id], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('truncated copy');
    expect(await redis.client.xlen(DLQ)).toBe(1);

    const out = await runCliJson<{ replayed: { new_id: string }[] }>(['dlq', 'replay', id, '--from-source'], env);
    const [replayed] = await redis.client.xrange(SOURCE, out.replayed[0]!.new_id, out.replayed[0]!.new_id);
    expect(replayed![1]).toEqual(['n', '1', 'payload', big]);
  });

  it('refuses --from-source when the original was trimmed from its stream', async () => {
    const id = await deadLetter({ payload: 'y'.repeat(DEAD_LETTER_VALUE_LIMIT + 1) });
    await redis.client.del(SOURCE);

    const result = await runCli(['dlq', 'replay', id, '--from-source'], env);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is no longer in ${SOURCE}`);
  });

  it('replays every matching entry oldest first with a progress bar on stderr', async () => {
    for (let i = 0; i < 25; i++) await deadLetter({ n: String(i) });
    await deadLetter({ n: 'other' }, { reason: 'invalid_input' });

    const result = await runCli(['dlq', 'replay', '--all', '--reason', 'handler_failed'], env);

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('replayed 25/25 (100%)');
    expect(result.stdout).toContain('25 replayed, 0 refused');
    const replayed = (await readStream(redis.client, SOURCE)).slice(-25);
    expect(replayed.map((e) => e.n)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    expect((await runCliJson<Listed>(['dlq', 'list'], env)).entries.map((e) => e.fields.n)).toEqual(['other']);
  });

  it('changes nothing with --dry-run', async () => {
    const id = await deadLetter({ n: '1' });

    const result = await runCli(['dlq', 'replay', id, '--dry-run'], env);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`would replay ${id} to ${SOURCE}`);
    expect(await redis.client.xlen(DLQ)).toBe(1);
    expect(await redis.client.xlen(SOURCE)).toBe(1);
  });

  it('drops given entries, and all of them with --all --yes', async () => {
    const a = await deadLetter({ n: '1' });
    const b = await deadLetter({ n: '2' });
    await deadLetter({ n: '3' });

    expect(await runCliJson(['dlq', 'drop', a], env)).toEqual({ dropped: [a], missing: [] });
    const missing = await runCli(['dlq', 'drop', b, a], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`not in the dead-letter stream: ${a}`);

    const all = await runCli(['dlq', 'drop', '--all', '--yes'], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('1 dropped');
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  it('fails with exit 1 when Redis is unreachable', async () => {
    const result = await runCli(['dlq', 'list'], { REDIS_URL: 'redis://127.0.0.1:1' });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1');
  });

  it('after the cause is fixed, a replayed message is processed by its handler', async () => {
    // A handler that fails while its downstream is "down" (a flag key), as a real outage would.
    const orders = defineHandler({
      name: 'orders',
      description: 'test handler that depends on a downstream',
      trigger: { kind: 'stream', stream: () => SOURCE, group: () => 'orders' },
      input: z.looseObject({ n: z.string() }),
      config: (e) => parseEnv(z.object({}), e),
      metrics: () => ({}),
      failure: { maxAttempts: 2, backoffMs: 5, policy: 'dead-letter' },
      async handle(message, ctx) {
        if ((await ctx.redis.get('test:downstream')) === 'down') throw new Error('downstream unavailable');
        ctx.emit('test:stream:done', { n: message.n });
      },
    });
    await redis.client.set('test:downstream', 'down');
    running.push(await startRuntime(redis.url, {}, [orders]));
    await redis.client.xadd(SOURCE, '*', 'n', '42');
    const [letter] = await waitFor(async () => (await runCliJson<Listed>(['dlq', 'list'], env)).entries);
    expect(letter).toMatchObject({ handler: 'orders', reason: 'handler_failed', fields: { n: '42' } });

    await redis.client.del('test:downstream');
    expect((await runCli(['dlq', 'replay', letter!.id], env)).code).toBe(0);

    const done = await waitFor(async () => (await readStream(redis.client, 'test:stream:done'))[0]);
    expect(done).toMatchObject({ n: '42' });
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });
});
