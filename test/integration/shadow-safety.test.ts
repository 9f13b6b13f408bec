import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { governor } from '../../handlers/governor/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { systemClock } from '../../runtime/host/index.js';
import { redisTimeMs } from '../../runtime/host/replay.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { ShadowHost } from '../../app/shadow/host.js';
import {
  isShadowKey,
  SHADOW_OUTCOME_JOBS,
  SHADOW_OUTCOMES,
  SHADOW_STATE,
  SHADOW_SUMMARY,
  SHADOW_UNEXPLAINED,
  shadowDecisionsKey,
} from '../../app/shadow/namespace.js';
import { shadowMetrics } from '../../app/shadow/metrics.js';
import { pairRound } from '../../cli/shadow/live.js';
import { decodeShadowRecord } from '../../app/shadow/record.js';
import { currentRelease, shadowReport } from '../../cli/shadow/report.js';
import { formatShadowReport } from '../../cli/shadow/format.js';
import { encodeOutcome } from '../../schemas/outcome.js';
import { redisTape } from '../../app/tape/store.js';
import { keys, streams } from '../../schemas/keys.js';
import { monitorLines } from '../support/monitor-lines.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { seedBook, sendTraffic, trafficPlanIds, trafficProposalIds } from '../support/shadow-traffic.js';

const HANDLERS = 'position-snapshot,heat-gate,governor,governor-cooldown';
const SHADOW_NAME = 'quantum-gates-shadow';

/** What the pipeline reads of a run, with the times and stream ids a second run cannot repeat set aside. */
async function pipelineView(r: Redis) {
  // A job's time and the runtime's consumer name differ from run to run; the key is the same.
  const names = (await r.keys('*'))
    .filter((k) => !isShadowKey(k))
    .map((k) => k.replace(/\d{13}/g, '<ms>').replace(/test-\d+-\d+/, '<consumer>'))
    .sort();
  const verdicts = (await readStream(r, streams.governorEvents))
    .filter((e) => e.event === 'permit' || e.event === 'block')
    .map((e) => [e.plan_id, e.event, e.reason]);
  const calibrated = (await readStream(r, streams.harvestCalibrated)).map((e) => [e.plan_id, e.calibrated_action, e.heat_bucket]);
  const permits = await Promise.all(trafficPlanIds.map((id) => r.exists(keys.permit(id))));
  // The live groups as the pipeline's consumers see them: their names, what they hold pending, how far they read.
  const groups: Record<string, unknown> = {};
  for (const stream of [streams.applyPlan, streams.harvestProposal, streams.positionSnapshot]) {
    const rows = (await r.xinfo('GROUPS', stream)) as unknown[][];
    const field = (row: unknown[], name: string) => row[row.indexOf(name) + 1];
    groups[stream] = rows
      .filter((row) => !String(field(row, 'name')).endsWith(':shadow'))
      .map((row) => ({ name: field(row, 'name'), pending: field(row, 'pending'), read: field(row, 'entries-read') }));
  }
  const lengths = await Promise.all([streams.applyPlan, streams.harvestProposal, streams.governorEvents].map((s) => r.xlen(s)));
  return { names, verdicts, calibrated, permits, groups, lengths };
}

describe('the shadow beside the live gates on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let shadow: ShadowHost | undefined;
  afterEach(async () => {
    await shadow?.stop();
    await shadow?.close();
    await runtime?.stop();
    shadow = undefined;
    runtime = undefined;
  });

  async function liveRun(withShadow: boolean, shadowEnv: Record<string, string> = {}, { horizonsPass = false } = {}) {
    const r = redis.client;
    // The incumbent tapes its decisions, as `quantum-gates start` does by default.
    runtime = await startRuntime(redis.url, { HANDLERS }, undefined, { tape: redisTape({}) });
    const written: string[] = [];
    let monitor: { stop: () => void } | undefined;
    // The shadow's clock, Redis's moved on by `ahead` once it decided everything: its follow-ups' horizons then pass.
    let ahead = 0;
    let decided = 0;
    if (withShadow) {
      shadow = new ShadowHost({
        base: redis.client,
        handlers: [heatGate, governor],
        env: shadowEnv,
        host: systemClock,
        readRedisTime: async () => redisTimeMs(await r.time()) + ahead,
        consumer: 'shadow-test',
        blockMs: 100,
        connectionName: SHADOW_NAME,
        onDecided: (records) => (decided += records.length),
      });
      await waitFor(async () => (await r.exists(streams.applyPlan, streams.harvestProposal)) === 2, { what: 'the live groups' });
      shadow.start();
      await waitFor(async () => (await r.hmget(SHADOW_STATE, 'governor:since', 'heat-gate:since')).every((v) => v !== null), {
        what: 'the shadow groups',
      });
      // Every command the shadow's connections send from here on (CLIENT LIST names their addresses).
      const addresses = new Set(
        String(await r.call('CLIENT', 'LIST'))
          .split('\n')
          .filter((line: string) => line.includes(`name=${SHADOW_NAME}`))
          .map((line: string) => /addr=(\S+)/.exec(line)![1]!),
      );
      expect(addresses.size).toBe(3);
      monitor = await monitorLines(redis.url, (line) => {
        const from = /\[\d+ ([^\]]+)\]/.exec(line)?.[1];
        if (from !== undefined && addresses.has(from)) written.push(line);
      });
    }
    await seedBook(r);
    await sendTraffic(r);
    await waitFor(
      async () => (await readStream(r, streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block').length === 5,
      {
        what: 'five governor decisions',
      },
    );
    await waitFor(async () => (await r.xlen(streams.harvestCalibrated)) === 4, { what: 'four calibrated proposals' });
    let samples = 0;
    if (shadow) {
      await waitFor(
        async () => (await r.xlen(shadowDecisionsKey('governor'))) === 5 && (await r.xlen(shadowDecisionsKey('heat-gate'))) === 4,
        { what: 'the shadow decided every input' },
      );
      if (horizonsPass) {
        // Its follow-ups of them (queued as each batch was told decided), then every horizon passed: all sampled.
        await waitFor(() => decided === 9, { what: 'the shadow told of its decisions' });
        await shadow.outcomes.sampleDue();
        ahead = 4 * 3_600_000 + 10_000;
        await shadow.outcomes.sampleDue();
        expect(await r.zcard(SHADOW_OUTCOME_JOBS)).toBe(0);
        samples = await r.xlen(SHADOW_OUTCOMES);
      }
    }
    await runtime.stop();
    runtime = undefined;
    await shadow?.stop();
    await shadow?.close();
    shadow = undefined;
    monitor?.stop();
    return { view: await pipelineView(r), written, samples };
  }

  it('writes only its own keys and group, and the pipeline reads the same with and without it', async () => {
    const without = await liveRun(false);
    await redis.client.flushall();
    const beside = await liveRun(true, {}, { horizonsPass: true });

    // The same decisions, the same keys, the live groups as far and as empty, in both runs.
    expect(beside.view).toEqual(without.view);
    expect(beside.view.verdicts).toHaveLength(5);
    // The shadow's own outcome follow-ups ran to their last horizon (their writes are among those checked below).
    expect(beside.samples).toBeGreaterThan(0);

    // MONITOR: every write the shadow's connections sent is under quantum:shadow: or on its own group.
    const WRITES =
      /^"(XADD|SET|HSET|HSETNX|DEL|EXPIRE|XACK|XGROUP|XREADGROUP|LPUSH|ZADD|ZREM|ZREMRANGEBYSCORE|SADD|PUBLISH|EVAL|EVALSHA|FCALL)"/i;
    const commands = beside.written.map((line) => line.slice(line.indexOf('] ') + 2));
    const writes = commands.filter((c) => WRITES.test(c));
    expect(writes.length).toBeGreaterThan(0);
    for (const command of writes) {
      const args = [...command.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
      const verb = args[0]!.toUpperCase();
      if (verb === 'XACK' || verb === 'XREADGROUP' || verb === 'XGROUP') {
        // XREADGROUP GROUP <group>, XACK <stream> <group>, XGROUP CREATE|DESTROY <stream> <group>.
        const group = verb === 'XGROUP' ? args[3]! : args[2]!;
        expect(`${verb} ${group}`).toMatch(/:shadow$/);
      } else expect(`${verb} ${args[1]}`).toMatch(/^\S+ quantum:shadow:/);
    }

    // Its records: every input the incumbent decided, decided by the shadow as well.
    const shadowPlans = (await redis.client.xrange(shadowDecisionsKey('governor'), '-', '+')).map(
      ([, f]) => decodeShadowRecord(f)!.raw.plan_id,
    );
    expect(shadowPlans).toEqual(trafficPlanIds);
    const shadowProposals = (await redis.client.xrange(shadowDecisionsKey('heat-gate'), '-', '+')).map(
      ([, f]) => decodeShadowRecord(f)!.raw.plan_id,
    );
    expect(shadowProposals).toEqual(trafficProposalIds);
    // Paired with the incumbent's tape: every input decided alike.
    const report = await shadowReport(redis.client, currentRelease, { graceMs: 0 }, Date.now());
    expect(report).toMatchObject({ compared: 9, same: 9, unexplained: 0, unpaired: 0 });
    // The live pairing counts each pair once, by gate and class, and keeps the summary the status page reads.
    const metrics = shadowMetrics();
    expect(await pairRound(redis.client, currentRelease, metrics, Date.now(), 0)).toEqual({ counted: 9, unexplained: 0 });
    expect(await pairRound(redis.client, currentRelease, metrics, Date.now(), 0)).toEqual({ counted: 0, unexplained: 0 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('quantum_gates_shadow_pairs_total{gate="governor",class="same"} 5');
    expect(text).toContain('quantum_gates_shadow_pairs_total{gate="heat-gate",class="same"} 4');
    expect(await redis.client.hmget(SHADOW_SUMMARY, 'compared', 'same', 'unexplained')).toEqual(['9', '9', null]);
    // Its stop left nothing on the pipeline's streams: no group of its own, so nothing pending.
    for (const stream of [streams.applyPlan, streams.harvestProposal]) {
      const rows = (await redis.client.xinfo('GROUPS', stream)) as unknown[][];
      expect(rows.map((row) => String(row[row.indexOf('name') + 1])).filter((name) => name.endsWith(':shadow'))).toEqual([]);
    }
  });

  it('names a planted difference: a shadow with another total cap permits the opens the incumbent blocked', async () => {
    await liveRun(true, { GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' });
    const report = await shadowReport(redis.client, currentRelease, { graceMs: 0 }, Date.now());
    expect(report).toMatchObject({ compared: 9, unexplained: 2, documented: 0, unpaired: 0 });
    const unexplained = report.pairs.filter((p) => p.class === 'unexplained');
    expect(unexplained.map((p) => [p.label, p.incumbent, p.shadow])).toEqual([
      ['open-sol', 'event=block reason=total_notional_exceeded', 'event=permit reason=all_gates_passed'],
      // Its own history: the shadow permitted the plan_id once (its own marker), so the repeat is a duplicate to it.
      ['open-sol', 'event=block reason=total_notional_exceeded', 'handled'],
    ]);
    expect(unexplained[0]!.changes.map((c) => c.field)).toContain('emit quantum:stream:governor.events event');
    const metrics = shadowMetrics();
    await pairRound(redis.client, currentRelease, metrics, Date.now(), 0);
    expect(await metrics.registry.metrics()).toContain('quantum_gates_shadow_pairs_total{gate="governor",class="unexplained"} 2');
    const kept = await redis.client.xrange(SHADOW_UNEXPLAINED, '-', '+');
    expect(kept.map(([, f]) => (JSON.parse(f[1]!) as { label: string }).label)).toEqual(['open-sol', 'open-sol']);

    // Priced once the outcome follow-ups know what the incumbent's block led to (the shadow's own
    // permit not sampled yet, its horizons ahead): samples of the
    // block as outcome-sample writes them (encodeOutcome), the $150 BUY kept out marked at 160 after
    // 5 minutes and 140 after an hour (the block's PnL: -$10, then +$10).
    const blockEvent = (await readStream(redis.client, streams.governorEvents)).find(
      (e) => e.event === 'block' && e.plan_id === 'open-sol',
    )!;
    const decidedAt = Number.parseInt(blockEvent._id, 10);
    for (const [horizon, sec, price] of [
      ['5m', 300, 160],
      ['1h', 3600, 140],
    ] as const) {
      const pnl = -150 * (price / 150 - 1);
      const outcome = encodeOutcome({
        decision_id: `gov:${blockEvent._id}`,
        kind: 'governor_block',
        symbol: 'SOLUSDT',
        plan_id: 'open-sol',
        bucket: '',
        mode: 'testnet',
        proposed_action: 'ENTRY_PROPOSED',
        decided_action: 'block',
        horizon,
        horizon_sec: sec,
        decided_at: decidedAt,
        sampled_at: decidedAt + sec * 1000,
        exposure_usd: -150,
        entry_price: 150,
        price,
        pnl_usd: pnl,
        worst_pnl_usd: pnl,
      });
      await redis.client.xadd(streams.gatesOutcome, '*', ...Object.entries(outcome).flat());
    }
    const priced = await shadowReport(redis.client, currentRelease, { graceMs: 0 }, Date.now());
    // The repeat the shadow took for a duplicate changes no exposure: one permit of a blocked open.
    expect(priced.priced).toHaveLength(1);
    expect(priced.priced[0]).toMatchObject({ gate: 'governor', kind: 'would_permit', differences: 1, plans: ['open-sol'] });
    expect(priced.priced[0]!.pnl.map((p) => [p.horizon, p.priced, p.totalPnlUsd, p.interval90])).toEqual([
      ['5m', 1, 10, null],
      ['1h', 1, -10, null],
      ['4h', 0, null, null],
    ]);
    expect(priced.priced[0]!.pnl[0]!.warnings[0]).toMatch(/^not enough independent data/);
    expect(formatShadowReport(priced)).toContain('the shadow would have permitted 1 plan the incumbent blocked (open-sol)');
  });
});
