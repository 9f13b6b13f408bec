import { afterEach, describe, expect, it } from 'vitest';
import { createGovernor } from '../../handlers/governor/index.js';
import { bookPositionSource, type PositionSource } from '../../handlers/governor/positions.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { loadHeatInputs } from '../../handlers/positions/heat.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { P33_KEY_WATCH } from '../../handlers/positions/book.js';
import { P33_REFRESHED_FIELD, P33_UNREADABLE_FIELD } from '../../handlers/positions/memory.js';
import { p33NewestHash, tickerHash } from '../support/book-producers.js';
import { decideOnce, refreshPositionIndex, usePrivateCommitter } from '../support/decide-once.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, produce, readStream, readyAt, waitFor, withoutCache } from '../support/runtime.js';

/**
 * Issue #59 item 2 (measured case 3): a listing read of the position book that Redis refuses (one
 * of the two indexes, the snapshot stream, the portfolio state) is that input's problem only. The
 * governor permits every close (close_bypass) and blocks every open naming the key
 * (positions_unreadable), counts no evaluation error, and /ready is 503 naming the key until it can
 * be read again; the heat gate in enforce mode fails closed by name (book_unreadable), naming the key. On
 * 6d8b18a all eight plans were blocked evaluation_error (auto-disarm counting them), the heat gate
 * made every FULL_CLOSE a PARTIAL_25, and /ready said 200. Both of the book's paths: the one script,
 * and the plain reads of a Redis without scripts (Cluster, Redis before 7).
 */

const HELD = ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT'];
const OPENED = ['EUSDT', 'FUSDT', 'GUSDT', 'HUSDT'];
const nowSec = () => Date.now() / 1000;

/** The two gates, reading the book through the key watch's kept replies, or sending every read. */
function gatesOf(path: 'cached' | 'plain reads'): AnyHandler[] {
  if (path === 'cached') return [createGovernor(), heatGate];
  const plainSource: PositionSource = {
    ...bookPositionSource,
    load: (redis, now, config) => bookPositionSource.load(withoutCache(redis), now, config),
  };
  const plainHeatGate = {
    ...heatGate,
    batch: {
      ...heatGate.batch,
      loadState: (redis: RedisReader, config, now: number) => loadHeatInputs(withoutCache(redis), config, now, true),
    },
  } as AnyHandler;
  return [createGovernor({ positions: plainSource }), plainHeatGate];
}

/** One input made unreadable (a key of another type), and made right again. */
interface Corruption {
  readonly name: string;
  readonly key: string;
  /** Whether the governor reads it (equity is the heat gate's alone). */
  readonly governorReads: boolean;
  spoil(redis: import('ioredis').Redis): Promise<void>;
  mend(redis: import('ioredis').Redis): Promise<void>;
}

const corruptions: readonly Corruption[] = [
  {
    name: 'the P3.3 index',
    key: keys.p33PositionIndex,
    governorReads: true,
    spoil: async (r) => void (await r.multi().del(keys.p33PositionIndex).set(keys.p33PositionIndex, 'not a set').exec()),
    mend: async (r) =>
      void (await r
        .multi()
        .del(keys.p33PositionIndex)
        .sadd(keys.p33PositionIndex, ...HELD)
        .exec()),
  },
  {
    name: 'our view’s index',
    key: keys.activePositions,
    governorReads: true,
    spoil: async (r) => void (await r.set(keys.activePositions, 'not a set')),
    mend: async (r) => void (await r.del(keys.activePositions)),
  },
  {
    name: 'the position snapshot stream',
    key: streams.positionSnapshot,
    governorReads: true,
    spoil: async (r) => void (await r.set(streams.positionSnapshot, 'not a stream')),
    mend: async (r) => void (await r.del(streams.positionSnapshot)),
  },
  {
    name: 'the portfolio state (equity)',
    key: keys.portfolioState,
    governorReads: false,
    spoil: async (r) => void (await r.multi().del(keys.portfolioState).rpush(keys.portfolioState, 'not a hash').exec()),
    mend: async (r) => void (await r.multi().del(keys.portfolioState).hset(keys.portfolioState, 'equity_usd', '10000').exec()),
  },
];

function close(symbol: string, id: string): Record<string, string> {
  return { plan_id: id, symbol, action: 'FULL_CLOSE_PROPOSED', decision: 'EXECUTE', kill_score: '0.1', timestamp: String(nowSec()) };
}

function open(symbol: string, id: string): Record<string, string> {
  return {
    plan_id: id,
    symbol,
    action: 'OPEN_LONG',
    decision: 'EXECUTE',
    kill_score: '0.1',
    side: 'BUY',
    qty: '1',
    price: '100',
    timestamp: String(nowSec()),
  };
}

describe('a listing of the position book Redis refuses is that input’s problem only (issue #59)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** Four P3.3 positions of $150 (position_state_brain/main.py at de25f13cb), tickers for the opens, equity $10,000 (heat COLD). */
  async function world(): Promise<void> {
    for (const s of HELD) await redis.client.hset(keys.p33StatePositions(s), p33NewestHash(s, 1.5, 100, nowSec()));
    await redis.client.sadd(keys.p33PositionIndex, ...HELD);
    for (const s of OPENED) await redis.client.hset(keys.ticker(s), tickerHash(s, 100, Date.now()));
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
  }

  /** The calibrated entry of heat proposal `planId`, once written. */
  async function calibrated(planId: string): Promise<Record<string, string>> {
    return waitFor(async () => (await readStream(redis.client, streams.harvestCalibrated)).find((e) => e.plan_id === planId), {
      what: `the heat gate's entry of ${planId}`,
    });
  }

  for (const path of ['cached', 'plain reads'] as const) {
    for (const c of corruptions) {
      it(`${path}: ${c.name} of another type: closes permitted, opens blocked naming it, /ready 503 naming it; once mended, decided as ever`, async () => {
        await world();
        await c.spoil(redis.client);
        runtime = await createTestRuntime(
          redis.url,
          { HANDLERS: 'governor,heat-gate', GOV_SYMBOL_COOLDOWN_SECONDS: '0', P26_MODE: 'enforce' },
          gatesOf(path),
        );
        const base = String(await runtime.start());
        await redis.client.hset(keys.harvestProposal('AUSDT'), 'harvest_action', 'FULL_CLOSE_PROPOSED');

        const plans = [...HELD.map((s, i) => close(s, `close-${i}`)), ...OPENED.map((s, i) => open(s, `open-${i}`))];
        await produce(redis.client, streams.applyPlan, plans);
        await produce(redis.client, streams.harvestProposal, [{ plan_id: 'heat-1', symbol: 'AUSDT', action: 'FULL_CLOSE_PROPOSED' }]);
        const decided = await governorDecided(redis.client, plans.length);
        const byPlan = (e: Record<string, string>) => [e.plan_id, e.event, e.reason, e.unreadable_listings];
        // Every event names what the book could not read (as it names unpriced positions), closes' too.
        const named = c.governorReads ? c.key : undefined;
        const closes = HELD.map((_, i) => [`close-${i}`, 'permit', 'close_bypass', named]);
        const opens = c.governorReads
          ? OPENED.map((_, i) => [`open-${i}`, 'block', 'positions_unreadable', c.key])
          : OPENED.map((_, i) => [`open-${i}`, 'permit', 'all_gates_passed', undefined]);
        expect(decided.map(byPlan).sort()).toEqual([...closes, ...opens].sort());
        // A read Redis refused is no error of a plan: nothing counted toward auto-disarm.
        expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
        expect(await redis.client.exists(keys.governorDisarm)).toBe(0);

        // The heat gate: no heat it can vouch for, taken as COLD by name, the key it could not read named.
        const entry = await calibrated('heat-1');
        expect([entry.calibrated_action, entry.reason, entry.fail_closed_cause]).toEqual([
          'PARTIAL_25',
          'portfolio_heat_cold',
          'book_unreadable',
        ]);
        const decision = (await readStream(redis.client, streams.heatDecision)).find((e) => e.plan_id === 'heat-1');
        expect(decision?.debug_json).toContain(`${c.key}.unreadable`);

        const notReady = await readyAt(base);
        expect(notReady.status).toBe(503);
        expect(notReady.body).toContain(`cannot read ${c.key}`);

        // Mended: read again without a message (the idle recheck), and decided as ever.
        await c.mend(redis.client);
        await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 once the key is mended' });
        const later = OPENED.map((s, i) => open(s, `later-${i}`));
        await produce(redis.client, streams.applyPlan, later);
        const all = await governorDecided(redis.client, plans.length + later.length);
        expect(all.filter((e) => e.plan_id!.startsWith('later-')).map((e) => e.reason)).toEqual(OPENED.map(() => 'all_gates_passed'));
        await produce(redis.client, streams.harvestProposal, [{ plan_id: 'heat-2', symbol: 'AUSDT', action: 'FULL_CLOSE_PROPOSED' }]);
        const after = await calibrated('heat-2');
        // A readable book of $600 on $10,000 without sigma: heat 0, COLD.
        expect([after.calibrated_action, after.reason, after.fail_closed_cause]).toEqual(['PARTIAL_25', 'portfolio_heat_cold', undefined]);
        expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
      });
    }
  }
});

/**
 * Issue #70's known gap (unknown-property.test.ts found it): P3.3's index of another type while
 * decisions read the book, so none reads P3.3's hashes through it and the memory learns nothing of
 * them; then the index lost, with no index job to rebuild it and no live key watch (the book lists
 * P3.3 through the index). The book read an empty index, and the open was permitted at 0 of 2 slots.
 * The rule (docs/governor.md "Absence is not flat"): a listing once unreadable stays of unknown completeness
 * until it has been listed whole again, by a refresh of the index job begun after it, or by the live
 * key watch. Decided as the property decides (decideOnce: no runtime, so no key watch), on both paths.
 */
describe('a listing once unreadable stays of unknown completeness until listed whole again (issue #70, knownGap)', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);
  const BOOK = ['H0USDT', 'H1USDT'];
  const caps = {
    GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    GOV_MAX_OPEN_POSITIONS: '2',
    GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
    GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
  };

  /** An open of $150 of a new symbol, priced by its ticker, decided at `now` through `reader`; its event. */
  async function openAt(reader: RedisReader, now: number, n: number): Promise<Record<string, string>> {
    const symbol = `NEW${n}USDT`;
    await redis.client.hset(keys.ticker(symbol), tickerHash(symbol, 100, now));
    const raw = { ...open(symbol, `open-${n}`), qty: '1.5', timestamp: String(now / 1000) };
    await decideOnce(createGovernor(), reader, commits.committer, now, raw, caps);
    const event = (await readStream(redis.client, streams.governorEvents)).find((e) => e.plan_id === `open-${n}`);
    if (event === undefined) throw new Error(`open-${n} not decided`);
    return event;
  }
  const mark = async () => redis.client.hmget(keys.positionsHeld, P33_UNREADABLE_FIELD, P33_REFRESHED_FIELD);

  /** Two P3.3 positions of $150 each (2 of 2 slots), its index of another type, one decision reading the book, then the index lost. */
  async function lostWhileUnreadable(reader: RedisReader, now: number): Promise<void> {
    await redis.client.flushall();
    for (const s of BOOK) await redis.client.hset(keys.p33StatePositions(s), p33NewestHash(s, 1.5, 100, now / 1000));
    await redis.client.set(keys.p33PositionIndex, 'not a set');
    expect(await openAt(reader, now, 0)).toMatchObject({
      event: 'block',
      reason: 'positions_unreadable',
      unreadable_listings: keys.p33PositionIndex,
    });
    // The decision marked the listing (Redis's clock: the decision's), and remembers no P3.3 leg: it read none.
    expect(await mark()).toEqual([String(now), null]);
    await redis.client.del(keys.p33PositionIndex);
  }

  // A plain client: no key watch, so P3.3 is listed through its index (the path these cases are about).
  for (const path of ['plain reads'] as const) {
    const readerOf = (): RedisReader => redis.client as unknown as RedisReader;

    it(`${path}: unreadable, then lost with no index job and no key watch → the next open is blocked positions_unreadable naming the index (was permitted at 0 of 2 slots); an index refresh begun after it lists the book whole again`, async () => {
      const now = Date.now();
      const reader = readerOf();
      await lostWhileUnreadable(reader, now);
      const next = await openAt(reader, now + 1000, 1);
      expect(next).toMatchObject({ event: 'block', reason: 'positions_unreadable', unreadable_listings: keys.p33PositionIndex });
      // A refresh begun before the sighting proves nothing: it stamps nothing, the mark stands.
      expect(
        await refreshPositionIndex(redis.client as unknown as RedisReader, commits.committer, now - 1, {
          POSITION_P33_SYMBOLS: BOOK.join(','),
        }),
      ).toBe('committed');
      expect(await mark()).toEqual([String(now), null]);
      expect(await openAt(reader, now + 1500, 2)).toMatchObject({ event: 'block', reason: 'positions_unreadable' });
      // One begun after it, completed (the index a set again): P3.3's book listed whole, 2 of 2 slots taken.
      expect(
        await refreshPositionIndex(redis.client as unknown as RedisReader, commits.committer, now + 2000, {
          POSITION_P33_SYMBOLS: BOOK.join(','),
        }),
      ).toBe('committed');
      expect(await mark()).toEqual([String(now), String(now + 2000)]);
      const listed = await openAt(reader, now + 3000, 3);
      expect(listed).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '2' });
      expect(listed.unreadable_listings).toBeUndefined();
      // The decision forgot the mark with the stamp (written empty: no memory).
      expect(await mark()).toEqual(['', '']);
    });

    it(`${path}: unreadable, then lost → blocked until a decision reads P3.3 through the live key watch (every P3.3 hash, not the index), which clears the mark`, async () => {
      const now = Date.now();
      const reader = readerOf();
      await lostWhileUnreadable(reader, now);
      // The key watch live: it names every P3.3 hash that is anything but a sound flat figure (book.ts p33KeyWatch).
      const watched = new Proxy(reader, {
        get(target, property, receiver) {
          if (property === 'keysToRead')
            return (name: string) => Promise.resolve(name === P33_KEY_WATCH ? BOOK.map((s) => keys.p33StatePositions(s)) : null);
          return Reflect.get(target, property, receiver) as unknown;
        },
      });
      expect(await openAt(watched, now + 1000, 1)).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '2' });
      expect(await mark()).toEqual(['', null]);
      // The watch gone again (reconnecting): the index is empty, but the memory now holds what the watch listed.
      expect(await openAt(reader, now + 2000, 2)).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '2' });
    });
  }
});

/** ACL key patterns for every key but those under `prefix` (an ACL cannot deny a pattern, only allow). */
function allBut(prefix: string): string[] {
  const escape = (c: string) => (/[*?[\]\\^]/.test(c) ? `\\${c}` : c);
  const patterns = [...prefix].map((c, i) => `~${[...prefix.slice(0, i)].map(escape).join('')}[^${escape(c)}]*`);
  // The proper prefixes themselves ("quantum", "quantum:", ...), which no pattern above matches.
  for (let i = 1; i < prefix.length; i++) patterns.push(`~${[...prefix.slice(0, i)].map(escape).join('')}`);
  return patterns;
}

describe('the gates’ ACL user losing read of quantum:state:* (issue #59)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.call('ACL', 'DELUSER', 'gates');
  });

  for (const path of ['cached', 'plain reads'] as const) {
    it(`${path}: an ACL's NOPERM is Redis's state: every plan held (never evaluation_error, nothing counted), /ready 503 naming it; restored, each decided once on its merits`, async () => {
      for (const s of HELD) await redis.client.hset(keys.p33StatePositions(s), p33NewestHash(s, 1.5, 100, nowSec()));
      await redis.client.sadd(keys.p33PositionIndex, ...HELD);
      for (const s of OPENED) await redis.client.hset(keys.ticker(s), tickerHash(s, 100, Date.now()));
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await redis.client.call('ACL', 'SETUSER', 'gates', 'on', '>gates-pw', '~*', '&*', '+@all');
      const url = new URL(redis.url);
      url.username = 'gates';
      url.password = 'gates-pw';
      runtime = await createTestRuntime(
        url.toString(),
        { HANDLERS: 'governor,heat-gate', GOV_SYMBOL_COOLDOWN_SECONDS: '0', P26_MODE: 'enforce' },
        gatesOf(path),
      );
      const base = String(await runtime.start());
      // The slip: every key still readable but quantum:state:* (written, not read), until /ready says so.
      await redis.client.call('ACL', 'SETUSER', 'gates', 'resetkeys', ...allBut('quantum:state:'), '%W~quantum:state:*');
      const plans = [...HELD.map((s, i) => close(s, `close-${i}`)), ...OPENED.map((s, i) => open(s, `open-${i}`))];
      await produce(redis.client, streams.applyPlan, plans);
      await produce(redis.client, streams.harvestProposal, [{ plan_id: 'heat-1', symbol: 'AUSDT', action: 'FULL_CLOSE_PROPOSED' }]);
      const notReady = await waitFor(
        async () => {
          const ready = await readyAt(base);
          return ready.status === 503 && /noperm/i.test(ready.body) ? ready : undefined;
        },
        { what: '/ready 503 naming the refusal' },
      );
      expect(notReady.body).toMatch(/noperm/i);
      // Held, not decided on what could not be read.
      expect(await readStream(redis.client, streams.governorEvents)).toEqual([]);
      expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
      await redis.client.call('ACL', 'SETUSER', 'gates', 'resetkeys', '~*');

      const decided = await governorDecided(redis.client, plans.length);
      expect(decided.map((e) => [e.plan_id, e.event, e.reason]).sort()).toEqual(
        [
          ...HELD.map((_, i) => [`close-${i}`, 'permit', 'close_bypass']),
          ...OPENED.map((_, i) => [`open-${i}`, 'permit', 'all_gates_passed']),
        ].sort(),
      );
      const entry = await waitFor(
        async () => (await readStream(redis.client, streams.harvestCalibrated)).find((e) => e.plan_id === 'heat-1'),
        { what: 'the heat gate decided' },
      );
      expect(entry.fail_closed_cause).toBeUndefined();
      expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
      await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 once read again' });
    });
  }
});
