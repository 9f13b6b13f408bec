import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, governorDecisions, pendingCount, produce, readyAt, waitFor } from '../support/runtime.js';

/**
 * Issue #59, measured cases 6 and 3 (its ACL half): the gates' ACL user loses a permission for a
 * few seconds (an operator's slip, a rolled ACL file) and gets it back. NOPERM is Redis's state,
 * not the plan's: the plan in flight is held (pending, undecided) while it lasts, /ready is 503
 * naming it, and the plan is decided once afterwards on its merits; nothing counts toward the
 * governor's auto-disarm (quantum:governor:errors).
 */

/** How long the permission is gone: the measured slip's length. */
const SLIP_MS = 6_000;
const USER = 'gates';
const PASSWORD = 'acl-slip-secret';

/** An open as upstream's publish_plan writes it (microservices/apply_layer/main.py at 8f5055c52, lines 673-690). */
const open = (planId: string, symbol: string) => ({
  plan_id: planId,
  symbol,
  action: 'OPEN_LONG',
  decision: 'EXECUTE',
  kill_score: '0.1',
  side: 'BUY',
  qty: '1',
  price: '100',
  timestamp: String(Date.now() / 1000),
});

/**
 * ACL key patterns granting read and write on every key but those starting with `prefix`: ACL
 * patterns only allow, so "all but" is spelled one character at a time ("not q*", "q, not u*", ...).
 * Read and write in one pattern: a command flagged both (EVAL's keys) needs one pattern granting both.
 */
function allBut(prefix: string): string[] {
  const glob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  return Array.from(prefix, (c, i) => `~${glob(prefix.slice(0, i))}[^${glob(c)}]*`);
}

describe('an ACL slip is Redis’s state, not the plan’s (NOPERM held, never evaluation_error)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.call('ACL', 'DELUSER', USER);
  });

  /** The governor, as the ACL user that has every permission, ready; its base address. */
  async function begin(symbol: string): Promise<string> {
    await redis.client.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
    await redis.client.hset(keys.marketState(symbol), 'mark_price', '100', 'ts', String(Date.now() / 1000));
    const url = new URL(redis.url);
    runtime = await createTestRuntime(`redis://${USER}:${PASSWORD}@${url.host}/0`, {
      HANDLERS: 'governor',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
      COMMIT_BACKOFF_MAX_MS: '200',
    });
    const base = String(await runtime.start());
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 at start' });
    return base;
  }

  /**
   * Revokes what `selectors` leave out, sends `plan`, holds the slip for SLIP_MS while checking the
   * plan stays undecided and /ready says NOPERM, then gives every permission back.
   */
  async function slip(base: string, selectors: readonly string[], plan: Record<string, string>): Promise<string> {
    await redis.client.call('ACL', 'SETUSER', USER, 'resetkeys', ...selectors);
    const started = Date.now();
    await produce(redis.client, streams.applyPlan, [plan]);
    const refused = await waitFor(
      async () => {
        const answer = await readyAt(base);
        if (answer.status === 503 && /NOPERM/i.test(answer.body)) return answer.body;
        const decided = await governorDecisions(redis.client);
        return decided.length > 0 ? `decided during the slip: ${JSON.stringify(decided)}` : undefined;
      },
      { what: '/ready 503 naming NOPERM during the slip' },
    );
    expect(refused).toMatch(/NOPERM/i);
    // The slip's length is the fault staged, not an assertion: the plan must wait it out whatever it is.
    await new Promise((r) => setTimeout(r, Math.max(0, SLIP_MS - (Date.now() - started))));
    expect(await governorDecisions(redis.client)).toEqual([]);
    expect(await pendingCount(redis.client, streams.applyPlan, 'governor')).toBe(1);
    await redis.client.call('ACL', 'SETUSER', USER, 'resetkeys', '~*');
    return refused;
  }

  it('a write refused by NOPERM for 6 s (the caps’ reservations): the open is held, then permitted once; nothing counts toward auto-disarm', async () => {
    const base = await begin('AUSDT');
    // Every key writable but the caps' reservations, which an open's permit writes (in the commit script: no guard reads it).
    const refused = await slip(base, ['%R~*', ...allBut(keys.governorReservations)], open('slip-write', 'AUSDT'));
    console.info(`/ready during the write slip: ${refused}`);

    const [decision, ...more] = await governorDecided(redis.client, 1);
    expect(decision).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
    expect(decision!.plan_id).toBe('slip-write');
    expect(more).toEqual([]);
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'the plan acknowledged' });
    expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
    expect(await redis.client.exists(keys.governorDisarm)).toBe(0);
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 after the slip' });
  }, 60_000);

  it('a read refused by NOPERM for 6 s (quantum:state:*, the open’s mark): the open is held, then permitted once; nothing counts toward auto-disarm', async () => {
    const base = await begin('BUSDT');
    // Every key readable but quantum:state:* (marks, P3.3 positions, portfolio), every key writable.
    const refused = await slip(base, ['%W~quantum:state:*', ...allBut('quantum:state:')], open('slip-read', 'BUSDT'));
    console.info(`/ready during the read slip: ${refused}`);

    const [decision, ...more] = await governorDecided(redis.client, 1);
    expect(decision).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
    expect(decision!.plan_id).toBe('slip-read');
    expect(more).toEqual([]);
    await waitFor(async () => (await pendingCount(redis.client, streams.applyPlan, 'governor')) === 0, { what: 'the plan acknowledged' });
    expect(await redis.client.zcard(keys.governorErrors)).toBe(0);
    expect(await redis.client.exists(keys.governorDisarm)).toBe(0);
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 after the slip' });
  }, 60_000);
});
