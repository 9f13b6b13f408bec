import { hostname } from 'node:os';
import * as z from 'zod';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { deadLetterFields, DEAD_LETTER_VALUE_LIMIT } from '../../runtime/engine/dead-letter.js';
import { parseEnv } from '../../schemas/env.js';
import { formatIssues } from '../../runtime/engine/decide.js';
import { defineHandler } from '../../runtime/contract/handler.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

const DLQ = streams.deadLetter;
const SOURCE = 'test:stream:orders';

interface Listed {
  stream: string;
  total: number;
  entries: {
    id: string;
    handler: string;
    reason: string;
    source_stream: string;
    source_id: string;
    truncated: boolean;
    fields: Record<string, string>;
  }[];
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

  it('lists dead letters newest first, filtered by failure and handler', async () => {
    const a = await deadLetter({ n: '1' });
    const b = await deadLetter({ n: '2' }, { reason: 'invalid_input', handler: 'heat-gate' });
    const c = await deadLetter({ n: '3' });

    const all = await runCliJson<Listed>(['dlq', 'list'], env);
    expect(all.total).toBe(3);
    expect(all.entries.map((e) => e.id)).toEqual([c, b, a]);
    expect(all.entries[0]).toMatchObject({
      handler: 'orders',
      reason: 'handler_failed',
      source_stream: SOURCE,
      fields: { n: '3' },
      truncated: false,
    });

    expect((await runCliJson<Listed>(['dlq', 'list', '--failure', 'invalid_input'], env)).entries.map((e) => e.id)).toEqual([b]);
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
    expect(listed.entries[0]).toMatchObject({
      reason: 'invalid_input',
      source_stream: streams.harvestProposal,
      fields: { plan_id: 'bad1', symbol: 'eth usdt' },
    });
  });

  it('says what an invalid input lacked the way a refused replay says it, in the list and in show', async () => {
    const parsed = z.object({ qty: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal number') }).safeParse({ qty: '1e-400' });
    const id = await deadLetter({ qty: '1e-400' }, { reason: 'invalid_input', detail: formatIssues(parsed.error!), attempts: 0 });
    const listed = await runCli(['dlq', 'list'], env);
    expect(listed.stdout).toContain('qty: must be a decimal number');
    expect(listed.stdout).not.toContain('"path"');
    const shown = await runCli(['dlq', 'show', id], env);
    expect(shown.stdout).toMatch(/^error {9}qty: must be a decimal number$/m);
    // Scripts still get the issues as the runtime wrote them.
    const json = await runCliJson<{ error: string }>(['dlq', 'show', id], env);
    expect(JSON.parse(json.error)).toEqual([{ path: 'qty', code: 'invalid_format', message: 'must be a decimal number' }]);
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
    ['replay without ids', 2, ['dlq', 'replay', '--reason', 'test'], /expects entry ids, or --all/],
    ['replay with ids and --all', 2, ['dlq', 'replay', '1-0', '--all', '--reason', 'test'], /not both/],
    ['replay filtering without --all', 2, ['dlq', 'replay', '1-0', '--failure', 'x', '--reason', 'test'], /for --all only/],
    ['drop --all without --yes', 2, ['dlq', 'drop', '--all', '--reason', 'test'], /add --yes to confirm/],
    ['a bad --limit', 2, ['dlq', 'list', '--limit', '0'], /--limit must be a whole number/],
    // --reason is the audit text of a drop or replay: one naming a failure was meant as --failure,
    // and taken as the audit text it would select every entry.
    [
      'drop --all whose --reason names a failure',
      2,
      ['dlq', 'drop', '--all', '--yes', '--reason', 'too_many_deliveries'],
      /--failure too_many_deliveries selects/,
    ],
    [
      'replay --all whose --reason names a failure',
      2,
      ['dlq', 'replay', '--all', '--force', '--reason', 'handler_failed'],
      /--reason "handler_failed" names a failure/,
    ],
    ['list --reason (retired: --failure)', 2, ['dlq', 'list', '--reason', 'invalid_input'], /filter with --failure F/],
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

    const out = await runCliJson<{ replayed: { id: string; stream: string; new_id: string }[]; refused: unknown[] }>(
      ['dlq', 'replay', id, '--force', '--reason', 'test'],
      env,
    );

    expect(out.refused).toEqual([]);
    expect(out.replayed).toEqual([{ id, stream: SOURCE, new_id: expect.stringMatching(/^\d+-\d+$/) }]);
    const source = await readStream(redis.client, SOURCE);
    expect(source.at(-1)).toEqual({
      _id: out.replayed[0]!.new_id,
      n: '1',
      symbol: 'ETHUSDT',
      original_id: source[0]!._id,
      replayed_from: id,
    });
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  it('replays once: a second replay of the same id is refused with exit 1', async () => {
    const id = await deadLetter({ n: '1' });
    expect((await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env)).code).toBe(0);

    const again = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);

    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`refused ${id}: not in the dead-letter stream`);
    expect(await redis.client.xlen(SOURCE)).toBe(2);
  });

  it('refuses a truncated entry unless --from-source, which replays the original', async () => {
    const big = 'x'.repeat(DEAD_LETTER_VALUE_LIMIT + 10);
    const id = await deadLetter({ n: '1', payload: big });

    const refused = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('truncated copy');
    expect(await redis.client.xlen(DLQ)).toBe(1);

    const out = await runCliJson<{ replayed: { new_id: string }[] }>(
      ['dlq', 'replay', id, '--from-source', '--force', '--reason', 'test'],
      env,
    );
    const [replayed] = await redis.client.xrange(SOURCE, out.replayed[0]!.new_id, out.replayed[0]!.new_id);
    expect(replayed![1]).toEqual(['n', '1', 'payload', big, 'original_id', expect.any(String), 'replayed_from', id]);
  });

  it('refuses --from-source when the original was trimmed from its stream', async () => {
    const id = await deadLetter({ payload: 'y'.repeat(DEAD_LETTER_VALUE_LIMIT + 1) });
    await redis.client.del(SOURCE);

    const result = await runCli(['dlq', 'replay', id, '--from-source', '--force', '--reason', 'test'], env);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is no longer in ${SOURCE}`);
  });

  it('replays every matching entry oldest first with a progress bar on stderr', async () => {
    for (let i = 0; i < 25; i++) await deadLetter({ n: String(i) });
    await deadLetter({ n: 'other' }, { reason: 'invalid_input' });

    const result = await runCli(['dlq', 'replay', '--all', '--failure', 'handler_failed', '--force', '--reason', 'test'], env);

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('replayed 25/25 (100%)');
    expect(result.stdout).toContain('25 replayed, 0 refused');
    const replayed = (await readStream(redis.client, SOURCE)).slice(-25);
    expect(replayed.map((e) => e.n)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    expect((await runCliJson<Listed>(['dlq', 'list'], env)).entries.map((e) => e.fields.n)).toEqual(['other']);
  });

  it('changes nothing with --dry-run', async () => {
    const id = await deadLetter({ n: '1' });

    const result = await runCli(['dlq', 'replay', id, '--dry-run', '--force'], env);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`would replay ${id} to ${SOURCE}`);
    expect(await redis.client.xlen(DLQ)).toBe(1);
    expect(await redis.client.xlen(SOURCE)).toBe(1);
  });

  it('drops given entries, and all of them with --all --yes', async () => {
    const a = await deadLetter({ n: '1' });
    const b = await deadLetter({ n: '2' });
    await deadLetter({ n: '3' });

    expect(await runCliJson(['dlq', 'drop', a, '--reason', 'test'], env)).toEqual({ dropped: [a], missing: [] });
    const missing = await runCli(['dlq', 'drop', b, a, '--reason', 'test'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`not in the dead-letter stream: ${a}`);

    const all = await runCli(['dlq', 'drop', '--all', '--yes', '--reason', 'test'], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('1 dropped');
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  it('replay and drop say what they did, then that the audit failed, when the events stream cannot be written (exit 1, no stack)', async () => {
    const a = await deadLetter({ n: '1' });
    const b = await deadLetter({ n: '2' });
    await redis.client.set('quantum:stream:governor.events', 'not a stream');
    try {
      const replay = await runCli(['dlq', 'replay', a, '--force', '--reason', 'audit drill'], env);
      expect(replay.code).toBe(1);
      expect(replay.stdout).toContain(`replayed ${a} to ${SOURCE}`);
      expect(replay.stderr).toContain('quantum-gates: audit {"event":"dlq_replay"');
      expect(replay.stderr).toContain(
        'quantum-gates dlq replay: 1 dead letter was replayed, but its audit was not written (the audit event: WRONGTYPE',
      );
      const drop = await runCli(['dlq', 'drop', b, '--reason', 'audit drill'], env);
      expect(drop.code).toBe(1);
      expect(drop.stdout).toBe('1 dropped\n');
      expect(drop.stderr).toContain('quantum-gates dlq drop: 1 dead letter was dropped, but its audit was not written');
      for (const result of [replay, drop]) expect(result.stderr).not.toMatch(/unexpected error|\n\s+at /);
      expect(await redis.client.xlen(DLQ)).toBe(0);
    } finally {
      await redis.client.del('quantum:stream:governor.events');
    }
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
    expect((await runCli(['dlq', 'replay', letter!.id, '--force', '--reason', 'test'], env)).code).toBe(0);

    const done = await waitFor(async () => (await readStream(redis.client, 'test:stream:done'))[0]);
    expect(done).toMatchObject({ n: '42' });
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });

  describe('replay moves an entry in one step or leaves it', () => {
    it('leaves the dead letter when the source key holds another type', async () => {
      const id = await deadLetter({ n: '1' });
      await redis.client.del(SOURCE);
      await redis.client.set(SOURCE, 'not a stream');

      const result = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`refused ${id}: could not add it to ${SOURCE}: WRONGTYPE.*stays in the dead-letter stream`));
      expect(await redis.client.xrange(DLQ, id, id)).toHaveLength(1);
      expect(await redis.client.get(SOURCE)).toBe('not a stream');
    });

    it('leaves a dead letter of 5,000 fields where it was', async () => {
      const raw = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`f${i}`, String(i)]));
      const id = await deadLetter(raw);
      const before = await redis.client.xlen(SOURCE);

      const result = await runCli(['dlq', 'replay', id, '--force', '--reason', 'test'], env);

      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`refused ${id}: 5002 fields, more than the 3900 one atomic replay can carry`);
      expect(await redis.client.xrange(DLQ, id, id)).toHaveLength(1);
      expect(await redis.client.xlen(SOURCE)).toBe(before);
    });

    it('drops only what is still there and says which were gone', async () => {
      const a = await deadLetter({ n: '1' });
      const b = await deadLetter({ n: '2' });
      await redis.client.xdel(DLQ, b); // replayed by someone else meanwhile

      const out = await runCli(['dlq', 'drop', a, b, '--json', '--reason', 'test'], env);

      expect(out.code).toBe(1);
      expect(JSON.parse(out.stdout)).toEqual({ dropped: [a], missing: [b] });
    });
  });

  describe('replay re-validates with the gate schema', () => {
    const proposal = { plan_id: 'p-1', symbol: 'ETHUSDT', action: 'FULL_CLOSE' };

    it('refuses with exit 2, naming the issues, and writes nothing, unless --force', async () => {
      const good = await deadLetter(proposal, { handler: 'heat-gate', sourceId: '1000-0' });
      const bad = await deadLetter(
        { plan_id: 'p-2', symbol: 'eth usdt' },
        { handler: 'heat-gate', reason: 'invalid_input', sourceId: '1001-0' },
      );

      const refused = await runCli(['dlq', 'replay', good, bad, '--reason', 'test'], env);

      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`invalid ${bad} \\(heat-gate\\): .*symbol: .*action: needs an action`));
      expect(refused.stderr).toContain('nothing replayed: 1 entry fails');
      expect(await redis.client.xlen(DLQ)).toBe(2);
      expect(await redis.client.exists(SOURCE)).toBe(0);

      const forced = await runCli(['dlq', 'replay', good, bad, '--force', '--reason', 'test'], env);
      expect(forced.code).toBe(0);
      expect(await redis.client.xlen(SOURCE)).toBe(2);
    });

    it('refuses an entry of a gate it does not know unless --force', async () => {
      const id = await deadLetter({ n: '1' }, { handler: 'orders' });

      const result = await runCli(['dlq', 'replay', id, '--dry-run'], env);

      expect(result.code).toBe(2);
      expect(result.stderr).toContain('no gate named "orders" here');
    });

    it('replays a valid entry without --force, keeping its original id through a second round', async () => {
      const sourceId = (await redis.client.xadd(SOURCE, '*', ...Object.entries(proposal).flat()))!;
      const first = await deadLetter(proposal, { handler: 'heat-gate', sourceId });

      const once = await runCliJson<{ replayed: { new_id: string }[] }>(['dlq', 'replay', first, '--reason', 'test'], env);
      const [replayedOnce] = (await readStream(redis.client, SOURCE)).filter((e) => e._id === once.replayed[0]!.new_id);
      expect(replayedOnce).toMatchObject({ ...proposal, original_id: sourceId, replayed_from: first });

      // Dead-lettered again as replayed, and replayed again: still aged from the first entry.
      const { _id: secondSource, ...secondRaw } = replayedOnce!;
      const second = await deadLetter(secondRaw, { handler: 'heat-gate', sourceId: secondSource });
      const twice = await runCliJson<{ replayed: { new_id: string }[] }>(['dlq', 'replay', second, '--reason', 'test'], env);
      const [replayedTwice] = (await readStream(redis.client, SOURCE)).filter((e) => e._id === twice.replayed[0]!.new_id);
      expect(replayedTwice).toMatchObject({ original_id: sourceId, replayed_from: second });
    });

    it('records who replayed and dropped, where, when and why on the governor events stream', async () => {
      const a = await deadLetter(proposal, { handler: 'heat-gate' });
      const b = await deadLetter(proposal, { handler: 'heat-gate' });
      const before = Date.now();

      const replayed = await runCli(['dlq', 'replay', a, '--reason', 'upstream fixed in INC-42'], { ...env, USER: 'alice' });
      const dropped = await runCli(['dlq', 'drop', b, '--reason', 'duplicate of INC-42'], { ...env, USER: 'bob' });

      expect(replayed.code).toBe(0);
      expect(dropped.code).toBe(0);
      const events = await readStream(redis.client, streams.governorEvents);
      expect(events).toEqual([
        expect.objectContaining({
          event: 'dlq_replay',
          actor: 'alice',
          host: hostname(),
          reason: 'upstream fixed in INC-42',
          count: '1',
          ids: a,
          forced: '0',
        }),
        expect.objectContaining({ event: 'dlq_drop', actor: 'bob', host: hostname(), reason: 'duplicate of INC-42', count: '1', ids: b }),
      ]);
      for (const e of events) expect(Number(e.ts)).toBeGreaterThanOrEqual(before);
      expect(replayed.stderr).toMatch(/recorded dlq_replay of 1 by alice@.* \(reason: upstream fixed in INC-42\)/);
      for (const run of [replayed, dropped]) expect(run.stderr).toContain(`writing to Redis redis://127.0.0.1:${redis.port}/0`);
    });

    it('refuses a replay or drop without --reason, writing nothing (a dry run needs none)', async () => {
      const a = await deadLetter(proposal, { handler: 'heat-gate' });
      for (const args of [
        ['dlq', 'replay', a],
        ['dlq', 'drop', a],
        ['dlq', 'replay', a, '--reason', '  '],
      ]) {
        const refused = await runCli(args, env);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain('--reason is required');
      }
      expect((await runCli(['dlq', 'replay', a, '--dry-run'], env)).code).toBe(0);
      expect(await redis.client.xlen('quantum:stream:dlq')).toBe(1);
      expect(await redis.client.xlen(streams.governorEvents)).toBe(0);
    });
  });
});
