import { describe, expect, it } from 'vitest';
import { disarmSection, killSwitchSection, type DisarmStatus, type KillSwitchStatus } from '../../handlers/governor/status.js';
import { budgetsSection, type BudgetRow } from '../../handlers/risk-budget/status.js';
import { collapseFailures } from '../../app/http/status/status-errors.js';
import { statusHeadline, type HeadlineInput } from '../../app/http/status/status-headline.js';
import { formatUtc } from '../../app/http/status/status-time.js';
import { GateTrends } from '../../app/http/status/status-trends.js';

const NOW = Date.UTC(2026, 10, 22, 13, 4, 5);

/** The headline's input with the governor's and the budget engine's sections as they read them. */
interface Input extends Omit<HeadlineInput, 'sections'> {
  readonly kill_switch: KillSwitchStatus | null;
  readonly disarm: DisarmStatus | null;
  readonly budgets: readonly Pick<BudgetRow, 'symbol' | 'budget_usd' | 'computed_at'>[] | null;
}

/** A healthy runtime: every section read, nothing switched on, budgets fresh. */
function healthy(overrides: Partial<Input> = {}): HeadlineInput {
  const { kill_switch, disarm, budgets, ...input } = healthyInput(overrides);
  // What the sections contribute, in the gate list's order: the governor's, then the budget engine's.
  const sections = [
    ...(killSwitchSection.headline?.(kill_switch, input.now) ?? []),
    ...(disarmSection.headline?.(disarm, input.now) ?? []),
    ...(budgetsSection.headline?.(budgets as readonly BudgetRow[] | null, input.now) ?? []),
  ];
  return { ...input, sections };
}

function healthyInput(overrides: Partial<Input>): Input {
  return {
    now: NOW,
    kill_switch: { active: false, value: null },
    disarm: { active: false, detail: null },
    dead_letter: { stream: 'quantum:stream:gates.dlq', length: 0 },
    budgets: [{ symbol: 'BTCUSDT', budget_usd: 1800, computed_at: NOW - 10_000 }],
    gates: [{ name: 'heat-gate', lag: 0 }],
    readiness: { starting: false, redis: undefined, gates: [] },
    redis: null,
    unread: [],
    trends: [{ gate: 'heat-gate', overMs: 60_000, failed: 0, deadLettered: 0, backlogFrom: 0, backlogTo: 0 }],
    ...overrides,
  };
}

const texts = (input: HeadlineInput) => statusHeadline(input).reasons.map((r) => r.text);

describe('statusHeadline', () => {
  it('is OK with no reasons when nothing needs attention', () => {
    expect(statusHeadline(healthy())).toEqual({ state: 'OK', reasons: [] });
  });

  describe('BLOCKING', () => {
    it('when the kill switch is on', () => {
      const headline = statusHeadline(healthy({ kill_switch: { active: true, value: '1' } }));
      expect(headline.state).toBe('BLOCKING');
      expect(texts(healthy({ kill_switch: { active: true, value: '1' } }))).toEqual([
        'kill switch quantum:kill is on: the governor blocks every plan',
      ]);
    });

    it('when the kill switch holds a value that is neither on nor off (it fails closed)', () => {
      const input = healthy({ kill_switch: { active: true, value: 'maybe' } });
      expect(statusHeadline(input).state).toBe('BLOCKING');
      expect(texts(input)).toEqual(['kill switch quantum:kill holds "maybe", which is neither on nor off: the governor blocks every plan']);
    });

    it('when the governor is disarmed, with its reason', () => {
      const input = healthy({ disarm: { active: true, detail: 'reason: governor_errors' } });
      expect(statusHeadline(input).state).toBe('BLOCKING');
      expect(texts(input)).toEqual(['governor disarmed: every open is blocked (reason: governor_errors)']);
    });

    it('when Redis is unreachable: one reason, since the outage began, naming the gates that wait', () => {
      const since = NOW - 30_000;
      const input = healthy({
        readiness: {
          starting: false,
          redis: { cause: 'unreachable', since, detail: 'connection reconnecting' },
          gates: [
            { gate: 'heat-gate', cause: 'not consuming', since: null },
            { gate: 'governor', cause: 'not consuming', since: null },
          ],
        },
        redis: { cause: 'unreachable', since, detail: 'connection reconnecting', sections: ['budgets', 'kill switch'] },
      });
      expect(statusHeadline(input)).toEqual({
        state: 'BLOCKING',
        reasons: [
          {
            state: 'BLOCKING',
            text: 'Redis unreachable (connection reconnecting); heat-gate, governor wait for it; 2 sections could not be read',
            since,
          },
        ],
      });
    });

    it('when Redis refuses writes', () => {
      const input = healthy({
        readiness: { starting: false, redis: { cause: 'writes_refused', since: NOW - 1000, detail: 'OOM command not allowed' }, gates: [] },
      });
      expect(statusHeadline(input).state).toBe('BLOCKING');
      expect(texts(input)).toEqual(['Redis refuses writes (OOM command not allowed)']);
    });

    it('when a hosted gate cannot make progress while Redis is fine', () => {
      const input = healthy({
        readiness: {
          starting: false,
          redis: undefined,
          gates: [{ gate: 'governor', cause: 'no read or commit for 31 s', since: NOW - 31_000 }],
        },
      });
      expect(statusHeadline(input)).toEqual({
        state: 'BLOCKING',
        reasons: [{ state: 'BLOCKING', text: 'governor cannot make progress: no read or commit for 31 s', since: NOW - 31_000 }],
      });
    });

    it('says once per gate what keeps it from progressing', () => {
      const input = healthy({
        readiness: {
          starting: false,
          redis: undefined,
          gates: [
            { gate: 'heat-gate', cause: 'failing: boom', since: NOW - 5000 },
            { gate: 'heat-gate', cause: 'not consuming', since: null },
          ],
        },
      });
      expect(statusHeadline(input).reasons).toEqual([
        { state: 'BLOCKING', text: 'heat-gate cannot make progress: failing: boom; not consuming', since: NOW - 5000 },
      ]);
    });

    it('lists blocking reasons before degraded ones', () => {
      const input = healthy({ kill_switch: { active: true, value: '1' }, dead_letter: { stream: 'dlq', length: 2 } });
      expect(statusHeadline(input).reasons.map((r) => r.state)).toEqual(['BLOCKING', 'DEGRADED']);
    });
  });

  describe('DEGRADED', () => {
    it('when dead letters are present', () => {
      const input = healthy({ dead_letter: { stream: 'quantum:stream:gates.dlq', length: 3 } });
      expect(statusHeadline(input).state).toBe('DEGRADED');
      expect(texts(input)).toEqual(['3 dead letters in quantum:stream:gates.dlq (quantum-gates dlq list)']);
    });

    it('when a gate failed or dead-lettered messages recently', () => {
      const input = healthy({ trends: [{ gate: 'heat-gate', overMs: 300_000, failed: 2, deadLettered: 1, backlogFrom: 0, backlogTo: 0 }] });
      expect(statusHeadline(input).state).toBe('DEGRADED');
      expect(texts(input)).toEqual(['heat-gate: 2 messages failed and 1 message dead-lettered in the last 5 min']);
    });

    it('when a backlog grows', () => {
      const input = healthy({
        trends: [{ gate: 'heat-gate', overMs: 90_000, failed: 0, deadLettered: 0, backlogFrom: 10, backlogTo: 450 }],
      });
      expect(texts(input)).toEqual(['heat-gate: backlog grew from 10 to 450 in the last 90 s']);
    });

    it('not when a small backlog moves a little', () => {
      const input = healthy({ trends: [{ gate: 'heat-gate', overMs: 90_000, failed: 0, deadLettered: 0, backlogFrom: 3, backlogTo: 40 }] });
      expect(statusHeadline(input).state).toBe('OK');
    });

    it('when a gate is far behind its stream', () => {
      const input = healthy({ gates: [{ name: 'heat-gate', lag: 1500 }] });
      expect(texts(input)).toEqual(['heat-gate is 1,500 entries behind its stream']);
    });

    it('when budgets are stale, since the oldest was computed', () => {
      const input = healthy({
        budgets: [
          { symbol: 'BTCUSDT', budget_usd: 1800, computed_at: NOW - 300_000 },
          { symbol: 'ETHUSDT', budget_usd: 900, computed_at: NOW - 5_000 },
        ],
      });
      const headline = statusHeadline(input);
      expect(headline).toEqual({
        state: 'DEGRADED',
        reasons: [{ state: 'DEGRADED', text: 'budgets stale for BTCUSDT: oldest computed 5 min ago', since: NOW - 300_000 }],
      });
    });

    it('when an open position has no budget', () => {
      const input = healthy({ budgets: [{ symbol: 'SOLUSDT', budget_usd: null, computed_at: null }] });
      expect(texts(input)).toEqual(['no budget for SOLUSDT: the governor allows their plans without a budget check']);
    });

    it('when sections could not be read for a reason other than Redis being down', () => {
      const input = healthy({ budgets: null, unread: [{ sections: ['budgets', 'disarm'], message: 'no answer within 2000 ms' }] });
      expect(statusHeadline(input).state).toBe('DEGRADED');
      expect(texts(input)).toEqual(['could not read budgets, disarm: no answer within 2000 ms']);
    });
  });
});

describe('collapseFailures', () => {
  const failures = [
    { section: 'budgets', message: 'Connection is closed.' },
    {
      section: 'kill switch',
      message: 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
    },
    { section: 'dead letters', message: 'no answer within 2000 ms' },
  ];

  it('makes one line of every Redis failure while Redis is unreachable, with the time the outage began', () => {
    const since = NOW - 12_000;
    const collapsed = collapseFailures(failures, { cause: 'unreachable', since, detail: 'connection reconnecting' });
    expect(collapsed.redis).toEqual({
      cause: 'unreachable',
      since,
      detail: 'connection reconnecting',
      sections: ['budgets', 'kill switch', 'dead letters'],
    });
    expect(collapsed.unread).toEqual([]);
    expect(collapsed.lines).toEqual([
      `redis unreachable since ${formatUtc(since)} (connection reconnecting): 3 sections could not be read`,
    ]);
  });

  it('groups failures by message when Redis is healthy', () => {
    const collapsed = collapseFailures([...failures, { section: 'disarm', message: 'Connection is closed.' }], undefined);
    expect(collapsed.redis).toBeNull();
    expect(collapsed.lines).toEqual([
      'budgets, disarm: Connection is closed.',
      expect.stringMatching(/^kill switch: Reached the max retries/),
      'dead letters: no answer within 2000 ms',
    ]);
  });

  it('does not blame read failures on Redis refusing writes', () => {
    expect(collapseFailures(failures, { cause: 'writes_refused', since: NOW, detail: 'OOM' }).redis).toBeNull();
  });
});

describe('GateTrends', () => {
  it('counts failures since the process started until a sample is older than the window', () => {
    const trends = new GateTrends(0, 60_000);
    expect(trends.observe(10_000, [{ name: 'g', failed: 1, dead_lettered: 0, backlog: 5 }])).toEqual([
      { gate: 'g', overMs: 10_000, failed: 1, deadLettered: 0, backlogFrom: null, backlogTo: 5 },
    ]);
    trends.observe(70_000, [{ name: 'g', failed: 1, dead_lettered: 0, backlog: 5 }]);
    // The sample at 10 s is now the newest one at least a window old: the failure before it is out.
    expect(trends.observe(80_000, [{ name: 'g', failed: 1, dead_lettered: 2, backlog: 300 }])).toEqual([
      { gate: 'g', overMs: 70_000, failed: 0, deadLettered: 2, backlogFrom: 5, backlogTo: 300 },
    ]);
  });
});

describe('formatUtc', () => {
  it('writes a date and time with its zone, never an epoch', () => {
    expect(formatUtc(NOW)).toBe('2026-11-22 13:04:05 UTC');
  });
});
