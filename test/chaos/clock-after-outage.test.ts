import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { redisTimeMs } from '../../runtime/engine/redis-clock.js';
import { buildRedisClockShim, type RedisClockShim } from '../support/redis-clock-shim.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { untilEachSeen, type StreamEntry } from '../support/until.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { fieldOfAll, pendingCount, proposal, seedPortfolio, waitFor } from './support/streams.js';

const GROUP = 'p26_heat_gate';
/** How far Redis's clock steps while the gates are cut off: far beyond any round trip or scheduling delay here. */
const STEP_MS = 600_000;
/**
 * How long the gates are cut off: over runtime/engine/redis-clock.ts's RESYNC_AFTER_MS (2 s), so
 * the gates' last TIME is stale when Redis answers again and a batch must read TIME itself.
 */
const OUTAGE_MS = 3_500;
/**
 * How far a decision's stamp may sit past Redis's TIME read once the decision was seen: a TIME is
 * taken at the midpoint of its round trip, a millisecond here. The probe's TIME sent into the outage
 * is answered only after the reconnect, seconds later; the gates read TIME again then
 * (redis-clock.ts SLOW_TIME_MS) rather than take a reading off by half of that (1.3-1.6 s ahead here
 * before they did).
 */
const STAMP_SLACK_MS = 250;

/** Redis's clock now, as TIME says. */
async function redisNow(redis: TestRedis): Promise<number> {
  return redisTimeMs(await redis.client.time());
}

/** The ms of a stream id: Redis's clock when the entry was added. */
const idMs = (id: string): number => Number(id.split('-')[0]);

/** The heat decision of plan `planId`, once it is in the decision stream. */
async function decisionOf(redis: TestRedis, planId: string): Promise<StreamEntry> {
  const entries = await untilEachSeen(redis.client, streams.heatDecision, 'plan_id', [planId], {
    what: `the heat decision of ${planId}`,
    timeoutMs: 20_000,
  });
  return entries.find((e) => e.plan_id === planId)!;
}

/** What each decision looked like, and Redis's clock around it. */
interface Decided {
  /** Redis's clock when the proposal was added (its stream id). */
  readonly proposedAt: number;
  /** decided_at_ms: the gate's clock (ctx.now()) when it decided. */
  readonly decidedAt: number;
  /** Redis's TIME read once the decision was seen. */
  readonly redisAfter: number;
  /** The host's wall clock then. */
  readonly hostAfter: number;
}

/**
 * The gates lose Redis for longer than 2 s (a silent link: the proxy drops every byte), and while
 * they are cut off Redis's own clock steps +600 s, as after a Sentinel failover to a master whose
 * clock differs. The rule (docs/architecture.md, "One clock"): a decision reads Redis's clock as
 * its last TIME plus the host's monotonic time since, and a batch reads TIME again when the last is
 * over 2 s old; the health probe reads it every second and as soon as the connection is back. So
 * the first decision after the outage is stamped on Redis's new clock, never on the old TIME plus
 * the time elapsed, which would put it 600 s before the proposal it decides.
 *
 * Redis's clock is stepped by a shim of the test's own (test/support/redis-clock-shim/), not
 * libfaketime, which hangs Debian's redis-server (its jemalloc) before it listens.
 */
describe('Redis’s clock steps while the gates are cut off for over 2 s', () => {
  let shim: RedisClockShim | undefined;
  let redis: TestRedis | undefined;
  let proxy: TcpProxy | undefined;
  let runtime: RuntimeProcess | undefined;
  let before: Decided;
  let after: Decided;
  /** /ready's answer while cut off. */
  let readyWhileCut: { status: number; body: string };
  /** quantum_gates_clock_offset_seconds once the decision after the outage was seen. */
  let offsetAfterSec = Number.NaN;

  beforeAll(async () => {
    shim = await buildRedisClockShim();
    redis = await startTestRedis({ serverEnv: shim.serverEnv });
    const server = redis;
    await seedPortfolio(server.client);
    proxy = await startTcpProxy({ port: server.port });
    runtime = await spawnRuntime({
      redisUrl: proxy.url,
      handlers: 'heat-gate',
      consumerName: 'chaos-clock-step',
      // The stall seen in half a second, so /ready says 503 early in the outage.
      env: { REDIS_STALL_MS: '500' },
    });
    const gates = runtime;
    await waitFor(async () => (await gates.get('/ready')).status === 200, { what: '/ready 200 at start' });

    const decide = async (planId: string, proposedAt: number): Promise<Decided> => {
      const decision = await decisionOf(server, planId);
      return { proposedAt, decidedAt: Number(decision.decided_at_ms), redisAfter: await redisNow(server), hostAfter: Date.now() };
    };
    const first = await server.client.xadd(streams.harvestProposal, '*', ...Object.entries(proposal('clock-before')).flat());
    before = await decide('clock-before', idMs(first!));

    // Cut off: the gates' connections stay open and silent, their bytes dropped (restore() resets them).
    proxy.blackhole();
    const cutAt = Date.now();
    readyWhileCut = await waitFor(
      async () => {
        const ready = await gates.get('/ready');
        return ready.status === 503 ? ready : undefined;
      },
      { what: '/ready 503 while cut off', timeoutMs: 10_000 },
    );
    // Redis's clock steps meanwhile, and a proposal is added on it: by the test's own client, not through the proxy.
    shim.setOffsetMs(STEP_MS);
    const during = await server.client.xadd(streams.harvestProposal, '*', ...Object.entries(proposal('clock-after')).flat());
    // The outage's length is the fault itself, not a wait for something to happen.
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
    await proxy.restore();

    after = await decide('clock-after', idMs(during!));
    offsetAfterSec = await gates.metric('quantum_gates_clock_offset_seconds');
    await waitFor(async () => (await gates.get('/ready')).status === 200, { what: '/ready 200 after the outage', timeoutMs: 20_000 });
    console.info(
      `[chaos] clock step in an outage: Redis stepped +${STEP_MS / 1000} s; the decision after it stamped ` +
        `${after.decidedAt - after.proposedAt} ms after its proposal's id, ${after.decidedAt - after.hostAfter} ms off the host's clock`,
    );
  });
  afterAll(async () => {
    await runtime?.kill();
    await proxy?.close();
    await redis?.stop();
    shim?.remove();
  });

  it('stamps the decision before the outage on Redis’s clock, then the host’s too (no step yet)', () => {
    expect(before.decidedAt).toBeGreaterThanOrEqual(before.proposedAt);
    // No outage yet: the probe's TIME of the last second, its round trip milliseconds long.
    expect(before.decidedAt).toBeLessThanOrEqual(before.redisAfter + 250);
    expect(Math.abs(before.decidedAt - before.hostAfter)).toBeLessThan(5_000);
  });

  it('stamps the first decision after the outage on Redis’s new clock, not the old TIME plus the time elapsed', () => {
    // Between Redis's clock when the proposal was added and Redis's clock once the decision was seen:
    // the old anchor plus the elapsed time would stamp it ~600 s before its own proposal.
    expect(after.decidedAt).toBeGreaterThanOrEqual(after.proposedAt);
    expect(after.decidedAt).toBeLessThanOrEqual(after.redisAfter + STAMP_SLACK_MS);
    // And so 600 s ahead of the host's clock, which did not move.
    expect(after.decidedAt - after.hostAfter).toBeGreaterThan(STEP_MS - 5_000);
    expect(after.decidedAt - after.hostAfter).toBeLessThan(STEP_MS + 5_000);
  });

  it('measures the step: the host’s clock is 600 s behind Redis’s (quantum_gates_clock_offset_seconds)', () => {
    expect(offsetAfterSec).toBeGreaterThan(-STEP_MS / 1000 - 5);
    expect(offsetAfterSec).toBeLessThan(-STEP_MS / 1000 + 5);
  });

  it('says 503 on /ready while cut off, naming Redis, and 200 again after', async () => {
    expect(readyWhileCut.status).toBe(503);
    // Stalled (the probe's TIME unanswered) or unreachable (the connection gone), as the link fails.
    expect(JSON.parse(readyWhileCut.body) as unknown).toMatchObject({
      redis: false,
      cause: expect.stringMatching(/^redis (stalled|unreachable)/),
    });
    expect((await runtime!.get('/ready')).status).toBe(200);
  });

  it('loses nothing: each proposal decided once, nothing pending, nothing dead-lettered', async () => {
    const client = redis!.client;
    expect((await fieldOfAll(client, streams.harvestCalibrated, 'plan_id')).sort()).toEqual(['clock-after', 'clock-before']);
    expect((await fieldOfAll(client, streams.heatDecision, 'plan_id')).sort()).toEqual(['clock-after', 'clock-before']);
    expect(await pendingCount(client, streams.harvestProposal, GROUP)).toBe(0);
    expect(await client.xlen(streams.deadLetter)).toBe(0);
  });
});
