import { describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { systemClock, type Clock } from '../../runtime/host/index.js';
import { ManualClock } from '../support/clock.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { useShadowHosts } from '../support/shadow-host.js';
import { waitFor } from '../support/runtime.js';

/** A plan as the Apply Layer writes it (test/integration/shadow-python.test.ts has the book it reads). */
const plan = (planId: string) => [
  'decision',
  'EXECUTE',
  'plan_id',
  planId,
  'symbol',
  'BTCUSDT',
  'action',
  'PARTIAL_75',
  'side',
  'SELL',
  'qty',
  '0.01',
];

/**
 * The shadow decides a batch only after the incumbent's group has been handed it and acknowledged
 * it (issue #73: "never slows the incumbent"; app/shadow/gate.ts afterIncumbent), so its reads and
 * CPU come between the incumbent's decisions, not beside them. The incumbent here is the test: a
 * consumer of the governor's group that reads and acknowledges when told.
 */
describe('the shadow lets the incumbent decide first', () => {
  const redis = usePrivateRedis();
  const startShadow = useShadowHosts();
  const decided = () => redis.client.xlen(shadowDecisionsKey('governor'));

  /**
   * The governor's group on the plans stream (with `consumer` in it, as a running governor's is once
   * it has been handed an entry: Redis 7.0 makes none for a read that returns nothing), and a
   * shadow governor beside it on `host`'s clock.
   */
  async function besideIncumbent(consumer: string | undefined, host: Clock, incumbentFirstMs: number): Promise<void> {
    const r = redis.client;
    await r.xgroup('CREATE', streams.applyPlan, 'governor', '$', 'MKSTREAM');
    if (consumer !== undefined) await r.call('XGROUP', 'CREATECONSUMER', streams.applyPlan, 'governor', consumer);
    await startShadow({ base: r, handlers: [governor], env: {}, host, consumer: 'first', blockMs: 100, incumbentFirstMs });
  }

  it('waits while the incumbent holds the entry unacknowledged, and decides once it is acknowledged', async () => {
    const r = redis.client;
    // On a clock the test moves: between two looks the shadow stands still, so "not yet decided" is
    // what it concluded, not how fast this machine is.
    const clock = new ManualClock();
    const looked = () => waitFor(() => clock.sleeps.length > 0, { what: 'the shadow waiting for the incumbent' });
    await besideIncumbent('incumbent', clock, 600_000);
    const id = (await r.xadd(streams.applyPlan, '*', ...plan('first-1')))!;

    // Not yet handed to the incumbent: the shadow has read it in its own group and waits.
    await looked();
    expect(await decided()).toBe(0);

    // Handed to the incumbent, not yet acknowledged: still waiting after its next look.
    await r.xreadgroup('GROUP', 'governor', 'incumbent', 'COUNT', 1, 'STREAMS', streams.applyPlan, '>');
    await clock.advance(5);
    await looked();
    expect(await decided()).toBe(0);

    await r.xack(streams.applyPlan, 'governor', id);
    await clock.advance(5);
    await waitFor(async () => (await decided()) === 1, { what: 'the shadow decided after the acknowledgement' });
  });

  it('decides at once where no incumbent reads the group (none of its consumers: nobody to go first)', async () => {
    const r = redis.client;
    await besideIncumbent(undefined, systemClock, 600_000);
    await r.xadd(streams.applyPlan, '*', ...plan('first-2'));
    await waitFor(async () => (await decided()) === 1, { what: 'decided with no incumbent consumer' });
  });

  it('decides after incumbentFirstMs beside an incumbent that stalls, on the clock it is given', async () => {
    const r = redis.client;
    const clock = new ManualClock();
    await besideIncumbent('stalled', clock, 60_000);
    await r.xadd(streams.applyPlan, '*', ...plan('first-3'));
    await waitFor(() => clock.sleeps.length > 0, { what: 'the shadow waiting for the incumbent' });
    await clock.advance(59_000);
    expect(await decided()).toBe(0);
    // Past the minute: each look at the incumbent, then its 5 ms pause, moved on until it decides.
    await clock.advance(1_000);
    await waitFor(
      async () => {
        await clock.advance(5);
        return (await decided()) === 1;
      },
      { what: 'decided once incumbentFirstMs passed' },
    );
  });
});
