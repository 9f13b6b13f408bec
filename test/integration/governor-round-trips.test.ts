import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { planOf, seedPortfolio } from '../../bench/governor-plans.js';
import { redisTape } from '../../app/tape/store.js';
import { decodeTapeEntries, tapeKey } from '../../app/tape/format.js';
import { settingsKey } from '../../app/tape/settings.js';
import { rehearseBatch, rehearsedGate } from '../../cli/rehearse/rehearse-record.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { governorDecided, startRuntime, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

/**
 * The runtime's periodic commands (the consumer's blocking read, health, the clock's TIME, backlog,
 * reclaim) and BullMQ's: not a plan's. Nor the tape's writes, flushed 50 ms after a commit whatever
 * a later plan is doing (a slow run of plans met the warm-up plan's). Everything else a runtime
 * connection sends while one plan is decided is.
 */
const NOT_A_PLANS = new Set(['xreadgroup', 'ping', 'xinfo', 'xautoclaim', 'config', 'client', 'bzpopmin', 'xread', 'time']);
/** Key prefixes: a gate's tape and its settings are the tape's own keys (app/tape), named there. */
const NOT_A_PLANS_KEYS = ['quantum:gates:health', tapeKey(''), settingsKey('')];

interface Sent {
  readonly wave: number;
  readonly name: string;
  readonly key: string;
}

/**
 * Counts a plan's round trips: every command a runtime connection sends is tagged with how many of
 * a plan's replies had arrived when it was sent. Commands sent before the next reply arrives went
 * out together (one round trip); a command sent after one had to wait for it.
 */
class RoundTrips {
  private replies = 0;
  sent: Sent[] = [];
  private readonly original = Redis.prototype.sendCommand;

  constructor(private readonly ignored: ReadonlySet<Redis>) {}

  install(): void {
    const original = this.original;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      const [command] = args;
      const name = command.name.toLowerCase();
      const key = String(command.args[0] ?? '');
      const ours =
        !self.ignored.has(this) &&
        !NOT_A_PLANS.has(name) &&
        !NOT_A_PLANS_KEYS.some((prefix) => key.startsWith(prefix)) &&
        !name.startsWith('bz');
      if (ours) {
        self.sent.push({ wave: self.replies, name, key });
        command.promise.then(
          () => (self.replies += 1),
          () => (self.replies += 1),
        );
      }
      return original.apply(this, args);
    } as Redis['sendCommand'];
  }

  uninstall(): void {
    Redis.prototype.sendCommand = this.original;
  }

  /**
   * Each plan's waves (each as its commands), a plan running from the wave that loads its state (its
   * error count, ZCOUNT, is read nowhere else) to the next plan's.
   */
  plans(): string[][][] {
    const byWave = new Map<number, string[]>();
    for (const s of this.sent) byWave.set(s.wave, [...(byWave.get(s.wave) ?? []), `${s.name} ${s.key}`]);
    const plans: string[][][] = [];
    for (const wave of byWave.values()) {
      if (wave.some((command) => command.startsWith('zcount'))) plans.push([]);
      plans.at(-1)?.push(wave);
    }
    return plans;
  }

  reset(): void {
    this.sent = [];
  }
}

/** Plan `n` on its own symbol RT{n}USDT: a close, or an open of $10. */
const plan = (n: number, close: boolean): string[] => planOf(`rt-${n}`, `RT${n}USDT`, close);

const PRICED = ['RT0USDT', 'RT1USDT', 'RT2USDT', 'RT3USDT', 'RT4USDT'];
// Caps above the book's 20 positions, each plan on a symbol of its own (no cooldown blocks it): every plan is
// permitted, its commit carrying every guard and its cooldown job scheduled after it.
const CAPS = { APPLY_MODE: 'testnet', GOV_MAX_OPEN_POSITIONS: '100', GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' };

describe('the governor: round trips a run of plans', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let trips: RoundTrips;
  beforeAll(() => {
    trips = new RoundTrips(new Set([redis.client]));
  });
  afterEach(async () => {
    trips.uninstall();
    await runtime?.stop();
    runtime = undefined;
  });
  afterAll(() => trips.uninstall());

  it("decides closes and opens in at most nine round trips a run of plans sharing one state read, no held symbol's keys read again; an open's reservation ends the run", async () => {
    await seedPortfolio(redis.client, 20);
    for (const symbol of ['RT0USDT', 'RT1USDT', 'RT2USDT', 'RT3USDT', 'RT4USDT'])
      await redis.client.hset(keys.marketState(symbol), 'mark_price', '10');
    runtime = await startRuntime(
      redis.url,
      { APPLY_MODE: 'testnet', GOV_MAX_OPEN_POSITIONS: '100', GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' },
      [governor],
    );
    // The key watch live, then a first plan warms the connections (script loads) and the watch's
    // kept replies of the book's reads: its trips are not counted.
    await waitFor(() => (runtime!.readiness().checks as Record<string, unknown>)['key_watch:p33-positions'] === 'live' || undefined, {
      what: 'the key watch live',
    });
    await redis.client.xadd(streams.applyPlan, '*', ...plan(0, true));
    await governorDecided(redis.client, 1);
    trips.install();
    // Written at once: the governor reads them in one batch. A close writes only its own plan's and
    // symbol's keys, so the open after it shares its state read and its commit; the open's
    // reservation is read by every plan after it, so the next close reads again, after that commit.
    const kinds = ['close', 'open', 'close', 'open'] as const;
    // In one transaction, so the blocked read is answered with all four.
    const written = redis.client.multi();
    for (const [i, kind] of kinds.entries()) written.xadd(streams.applyPlan, '*', ...plan(i + 1, kind === 'close'));
    await written.exec();
    const decided = await governorDecided(redis.client, kinds.length + 1);
    trips.uninstall();
    expect(decided.slice(1).map((d) => [d.plan_id, d.event])).toEqual(kinds.map((_, i) => [`rt-${i + 1}`, 'permit']));
    // Each run of plans from the wave that loads its state (its error count, ZCOUNT, is read nowhere else).
    const runs = trips.plans();
    expect(runs).toHaveLength(2);
    const [first] = runs;
    // Its reads (the state's and both plans' own), the book's script (sent once the key watch's
    // barrier is answered, a round trip after them), its one commit, the two permits' cooldown jobs.
    // Its reads (the state's, both plans' own and the book's XINFO), the book's listing beside the key
    // watch's barrier, the unapplied entries' applied ids (nothing applies the seeded snapshots here)
    // and the barrier after them, the memory the last commit wrote, each plan's marks and P3.3
    // hashes (no read had kept them: a round each, after the barrier), its one commit, the two
    // permits' cooldown jobs. No held symbol's keys: their replies are kept since the warm-up read them.
    expect(first!.length).toBeLessThanOrEqual(9);
    expect(first!.at(-2)!.filter((command) => command.startsWith('evalsha '))).toHaveLength(1);
    const commands = runs.flat(2);
    expect(commands.filter((command) => /^hmget quantum:(position:snapshot|state:positions):SYM/.test(command))).toEqual([]);
    // The commit script goes by its hash, never with its body.
    expect(commands.filter((command) => command.startsWith('eval '))).toEqual([]);
    for (const waves of runs) expect(waves[0]!.map((command) => command.split(' ')[0])).toEqual(expect.arrayContaining(['info']));
  });

  it('tapes the reads sent ahead as what the decision read: the tape rehearses the permit it committed', async () => {
    await seedPortfolio(redis.client, 20);
    for (const symbol of PRICED) await redis.client.hset(keys.marketState(symbol), 'mark_price', '10');
    runtime = await startRuntime(redis.url, CAPS, [governor], { tape: redisTape(CAPS) });
    await redis.client.xadd(streams.applyPlan, '*', ...plan(1, false));
    await governorDecided(redis.client, 1);
    await untilStreamLength(redis.client, tapeKey('governor'), 1, { what: 'the permit taped' });
    const records = decodeTapeEntries(await redis.client.xrangeBuffer(tapeKey('governor'), '-', '+'));
    expect(records).toHaveLength(1);
    const [record] = records;
    // The plan's own reads, sent with its state's, are on its tape as its ctx read them.
    const reads = record!.reads.calls.map(([method, args]) => `${method} ${String((args as unknown[])[0])}`);
    expect(reads).toEqual(
      expect.arrayContaining(['exists quantum:gates:permitted:rt-1', 'exists quantum:permit:rt-1', 'get quantum:governor:version:RT1USDT']),
    );
    // Its symbol's mark, sent or through the key watch's kept replies (cachedReads), on the tape either way.
    const markReads = record!.reads.calls.flatMap(([method, args]) =>
      method === 'cachedReads'
        ? ((args as unknown[])[1] as string[][]).map((read) => `${read[0]!.toLowerCase()} ${read[1]}`)
        : [`${method} ${String((args as unknown[])[0])}`],
    );
    expect(markReads).toContain('hmget quantum:state:market:RT1USDT');
    const [rehearsed] = await rehearseBatch(rehearsedGate(governor, CAPS), records);
    expect(rehearsed).toEqual({ outcome: record!.outcome, effects: record!.effects, jobs: record!.jobs });
    expect(record!.outcome).toBe('handled');
  });
});
