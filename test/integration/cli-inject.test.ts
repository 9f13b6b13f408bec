import { beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { refusedPort, usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { allHandlers } from '../../handlers/index.js';
import { runCli, runCliJson } from './cli-harness.js';

describe('quantum-gates inject', () => {
  const redis = usePrivateRedis();
  let env: Record<string, string>;

  beforeAll(() => {
    env = { REDIS_URL: redis.url };
  });

  it('adds a proposal to the heat gate stream with the fields given and prints the entry id', async () => {
    const result = await runCli(
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--plan-id', 'test1', '--reason', 'tp_hit'],
      env,
    );

    expect(result.code).toBe(0);
    const [entry] = await readStream(redis.client, streams.harvestProposal);
    expect(entry).toMatchObject({ symbol: 'ETHUSDT', action: 'FULL_CLOSE', plan_id: 'test1', reason: 'tp_hit' });
    expect(result.stdout).toMatch(new RegExp(`^id\\s+${entry!._id}$`, 'm'));
    expect(result.stderr).toContain(`writing to Redis ${redis.url}/0 (settings from the environment)`);
  });

  it("writes to the stream the gate's own override names, and refuses an environment the gate would refuse", async () => {
    const moved = await runCli(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE'], {
      ...env,
      P26_INPUT_STREAM: 'test:stream:moved',
    });
    expect(moved.code).toBe(0);
    expect(await redis.client.xlen('test:stream:moved')).toBe(1);

    const refused = await runCli(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE'], { ...env, P26_MODE: 'bogus' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('P26_MODE: must be exactly one of "shadow", "enforce" (got "bogus")');
    expect(refused.stderr).not.toContain('unexpected error');
    expect(await redis.client.xlen(streams.harvestProposal)).toBe(0);
  });

  it('generates a plan_id when none is given, and prints it', async () => {
    const out = await runCliJson<{ stream: string; id: string; fields: Record<string, string>; generated: string[] }>(
      ['inject', 'proposal', '--symbol', 'BTCUSDT', '--action', 'PARTIAL_50'],
      env,
    );

    expect(out.stream).toBe(streams.harvestProposal);
    expect(out.fields.plan_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.generated).toEqual(['plan_id']);
    const [entry] = await readStream(redis.client, streams.harvestProposal);
    expect(entry).toMatchObject({ _id: out.id, plan_id: out.fields.plan_id });
  });

  it('adds an apply plan for the governor, EXECUTE unless told otherwise', async () => {
    const out = await runCliJson<{ stream: string; fields: Record<string, string> }>(
      [
        'inject',
        'plan',
        '--symbol',
        'BTCUSDT',
        '--action',
        'PARTIAL_75',
        '--qty',
        '0.001',
        '--price',
        '100000',
        '--reduce-only',
        'true',
        '--kill-score',
        '0.2',
        '--side',
        'SELL',
      ],
      env,
    );

    expect(out.stream).toBe(streams.applyPlan);
    const [entry] = await readStream(redis.client, streams.applyPlan);
    expect(entry).toMatchObject({
      symbol: 'BTCUSDT',
      action: 'PARTIAL_75',
      decision: 'EXECUTE',
      qty: '0.001',
      price: '100000',
      reduceOnly: 'true',
      kill_score: '0.2',
      side: 'SELL',
    });
  });

  it('adds a position snapshot', async () => {
    const result = await runCli(
      ['inject', 'snapshot', '--symbol', 'ETHUSDT', '--position-notional-usd', '1800', '--sigma', '0.15', '--mark-price', '3000'],
      env,
    );

    expect(result.code).toBe(0);
    const [entry] = await readStream(redis.client, streams.positionSnapshot);
    expect(entry).toMatchObject({ symbol: 'ETHUSDT', position_notional_usd: '1800', sigma: '0.15', mark_price: '3000' });
  });

  it('takes negative numbers as values (a short position)', async () => {
    const result = await runCli(['inject', 'snapshot', '--symbol', 'BTCUSDT', '--position-notional-usd', '-500', '--sigma', '0.2'], env);

    expect(result.code).toBe(0);
    const [entry] = await readStream(redis.client, streams.positionSnapshot);
    expect(entry).toMatchObject({ position_notional_usd: '-500', sigma: '0.2' });
  });

  it('sets the portfolio state with the time of writing', async () => {
    const before = Math.floor(Date.now() / 1000);
    const out = await runCliJson<{ key: string }>(['inject', 'portfolio', '--equity-usd', '10000', '--drawdown', '0.05'], env);

    expect(out.key).toBe(keys.portfolioState);
    const state = await redis.client.hgetall(keys.portfolioState);
    expect(state).toMatchObject({ equity_usd: '10000', drawdown: '0.05' });
    expect(Number(state.timestamp)).toBeGreaterThanOrEqual(before);
  });

  it("sets a symbol's market state, the symbol naming the key only", async () => {
    const out = await runCliJson<{ key: string; fields: Record<string, string> }>(
      ['inject', 'market', '--symbol', 'BTCUSDT', '--mark-price', '100000'],
      env,
    );

    expect(out.key).toBe(keys.marketState('BTCUSDT'));
    expect(await redis.client.hgetall(keys.marketState('BTCUSDT'))).toEqual({ mark_price: '100000' });
  });

  it('carries extra fields given with --field', async () => {
    await runCliJson(
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--field', 'source=manual', '--field', 'note=a=b'],
      env,
    );

    const [entry] = await readStream(redis.client, streams.harvestProposal);
    expect(entry).toMatchObject({ source: 'manual', note: 'a=b' });
  });

  it('sends an action no proposer writes only with --any-action', async () => {
    await runCliJson(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'UPDATE_SL', '--any-action'], env);
    const [entry] = await readStream(redis.client, streams.harvestProposal);
    expect(entry).toMatchObject({ action: 'UPDATE_SL' });
  });

  it('writes to the stream the gate is configured to read (P26_INPUT_STREAM)', async () => {
    await runCliJson(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE'], {
      ...env,
      P26_INPUT_STREAM: 'test:proposals',
    });

    expect(await redis.client.xlen('test:proposals')).toBe(1);
    expect(await redis.client.exists(streams.harvestProposal)).toBe(0);
  });

  it.each([
    [
      'a lower-case symbol',
      ['inject', 'proposal', '--symbol', 'ethusdt', '--action', 'FULL_CLOSE'],
      /--symbol: must be an upper-case exchange symbol.*\(got "ethusdt"\)/,
    ],
    [
      'a symbol with a slash',
      ['inject', 'snapshot', '--symbol', 'ETH/USDT', '--position-notional-usd', '1'],
      /--symbol: must be an upper-case exchange symbol/,
    ],
    ['no symbol', ['inject', 'proposal', '--action', 'FULL_CLOSE'], /--symbol: is required/],
    ['no action', ['inject', 'proposal', '--symbol', 'ETHUSDT'], /--action: needs an action/],
    [
      'a mistyped action',
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOS'],
      /--action: "FULL_CLOS" is no action a proposer writes .*\(did you mean "FULL_CLOSE"\?\); --any-action sends it anyway/,
    ],
    [
      'a mistyped harvest action',
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--harvest-action', 'PARTIAL_52'],
      /--harvest-action: "PARTIAL_52" is no action a proposer writes/,
    ],
    ['no notional', ['inject', 'snapshot', '--symbol', 'ETHUSDT'], /--position-notional-usd: is required/],
    ['no equity', ['inject', 'portfolio'], /--equity-usd: is required/],
    ['a non-numeric equity', ['inject', 'portfolio', '--equity-usd', 'lots'], /--equity-usd: must be a decimal number \(got "lots"\)/],
    ['a market state without a price', ['inject', 'market', '--symbol', 'BTCUSDT'], /--mark-price: is required/],
    ['a zero mark price', ['inject', 'market', '--symbol', 'BTCUSDT', '--mark-price', '0'], /--mark-price: must be a positive price/],
    [
      'a negative sigma',
      ['inject', 'snapshot', '--symbol', 'ETHUSDT', '--position-notional-usd', '1', '--sigma', '-1'],
      /--sigma: must not be negative/,
    ],
    ['a bad boolean', ['inject', 'plan', '--symbol', 'BTCUSDT', '--reduce-only', 'maybe'], /--reduce-only: must be true or false/],
    [
      'an unknown option',
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--colour', 'red'],
      /Unknown option '--colour'/,
    ],
    ['an option without its value', ['inject', 'proposal', '--symbol'], /--symbol/],
    [
      'a --field without =',
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--field', 'oops'],
      /--field expects name=value/,
    ],
    [
      'a --field naming a flag',
      ['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--field', 'symbol=X'],
      /use --symbol/,
    ],
    ['an unknown kind', ['inject', 'order', '--symbol', 'ETHUSDT'], /unknown inject command "order"/],
  ])('refuses %s with exit 2 and writes nothing', async (_case, args, message) => {
    const result = await runCli(args, env);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await redis.client.dbsize()).toBe(0);
  });

  it('validates before connecting: invalid input is exit 2 even with Redis down', async () => {
    const result = await runCli(['inject', 'proposal', '--symbol', 'bad symbol', '--action', 'FULL_CLOSE'], {
      REDIS_URL: `redis://127.0.0.1:${await refusedPort()}`,
    });

    expect(result.code).toBe(2);
  });

  it('fails fast with exit 1 and says where it looked when Redis is unreachable', async () => {
    const port = await refusedPort();
    const result = await runCli(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE'], {
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(port),
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}/0: connect ECONNREFUSED`);
    expect(result.stderr).toContain('REDIS_HOST/REDIS_PORT: cannot reach Redis');
  });

  it('rejects a malformed REDIS_URL as a usage error', async () => {
    const result = await runCli(['inject', 'portfolio', '--equity-usd', '1'], { REDIS_URL: 'localhost:6379' });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_URL: must start with redis:// or rediss://');
  });

  it('prints help for the command with exit 0', async () => {
    const result = await runCli(['inject', 'plan', '--help'], env);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: quantum-gates inject plan');
    expect(result.stdout).toContain('--kill-score');
  });
});

describe('quantum-gates inject --unchecked: the dead letter of the docs/operations.md §5 drill', () => {
  const redis = usePrivateRedis();

  it('writes what the schema refuses, saying so and why; the governor dead-letters it (invalid_input), and dlq lists it', async () => {
    const env = { REDIS_URL: redis.url };
    // Without --unchecked the same plan is refused before anything is written.
    const refused = await runCli(['inject', 'plan', '--symbol', 'BTC/USDT', '--action', 'OPEN_LONG', '--qty', '0.001'], env);
    expect(refused.code).toBe(2);
    expect(await redis.client.exists(streams.applyPlan)).toBe(0);

    const runtime = await startRuntime(redis.url, { HANDLERS: 'governor' }, allHandlers);
    try {
      const written = await runCli(
        ['inject', 'plan', '--symbol', 'BTC/USDT', '--action', 'OPEN_LONG', '--qty', '0.001', '--unchecked'],
        env,
      );
      expect(written.code, written.stderr).toBe(0);
      expect(written.stderr).toMatch(
        /--unchecked: written without validation; the gate will dead-letter it \(invalid_input\):\n {2}--symbol: /,
      );

      const listed = await waitFor(
        async () => {
          const list = await runCliJson<{ entries: { handler: string; reason: string; fields: Record<string, string> }[] }>(
            ['dlq', 'list', '--failure', 'invalid_input'],
            env,
          );
          return list.entries.length > 0 ? list.entries : undefined;
        },
        { what: 'the governor to dead-letter the unchecked plan' },
      );
      expect(listed).toEqual([expect.objectContaining({ handler: 'governor', reason: 'invalid_input' })]);
      // The rest of the drill as the guide has it: a replay is refused (the schema again), the drop empties it.
      expect((await runCli(['dlq', 'replay', '--all', '--handler', 'governor', '--reason', 'drill'], env)).code).toBe(2);
      const dropped = await runCli(
        ['dlq', 'drop', '--all', '--yes', '--handler', 'governor', '--failure', 'invalid_input', '--reason', 'drill over'],
        env,
      );
      expect(dropped.code, dropped.stderr).toBe(0);
      expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
    } finally {
      await runtime.stop();
    }
  });

  it('is offered on the stream kinds only: a hash the gates read is never written unchecked', async () => {
    const hash = await runCli(['inject', 'portfolio', '--equity-usd', 'lots', '--unchecked'], { REDIS_URL: redis.url });
    expect(hash.code).toBe(2);
    expect(await redis.client.exists(keys.portfolioState)).toBe(0);
  });
});
