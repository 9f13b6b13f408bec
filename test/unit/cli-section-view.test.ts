import { describe, expect, it } from 'vitest';
import { renderGatesStatus } from '../../cli/gates-status-view.js';
import { renderView } from '../../cli/section-view.js';
import { heatSection, type HeatStatus } from '../../handlers/heat-gate/status.js';
import type { GatesStatus, SectionDescription } from '../../app/http/status/status.js';

/**
 * `quantum-gates status` draws a section from its description alone (GET /status/sections): where
 * it goes follows from its views and its order, never from its key.
 */
function status(extra: Record<string, unknown>): GatesStatus {
  return {
    generated_at: 1_795_000_000_000,
    headline: { state: 'OK', reasons: [] },
    build: null,
    instance: null,
    redis_ready: true,
    gates: [],
    dead_letter: { stream: 'quantum:stream:dlq', length: 0 },
    redis_fault: null,
    errors: [],
    ...extra,
  } as GatesStatus;
}

const valve: SectionDescription = {
  key: 'valve',
  title: 'Valve',
  gates: ['valve-gate'],
  views: [
    {
      shape: 'switch',
      label: 'Valve',
      caption: 'valve',
      terminal: 'valve',
      states: [
        { when: { open: true }, text: 'OPEN', tone: 'bad', terminal: 'OPEN' },
        { text: 'shut', tone: 'ok' },
      ],
    },
  ],
};
const level: SectionDescription = {
  key: 'level',
  title: 'Level',
  gates: ['valve-gate'],
  views: [
    {
      shape: 'sentence',
      parts: [
        'level ',
        { key: 'value', format: 'number', digits: 2 },
        { key: 'bands', bands: { edges: ['lo', 'hi'], names: ['LOW', 'OK', 'HIGH'] }, before: ' (', after: ')' },
      ],
    },
  ],
};
const table = (key: string, order?: number): SectionDescription => ({
  key,
  title: `Table ${key}`,
  ...(order === undefined ? {} : { order }),
  gates: ['valve-gate'],
  views: [{ shape: 'table', empty: `No ${key}.`, columns: [{ key: 'name', label: 'Name' }] }],
});

describe('renderGatesStatus from section descriptions', () => {
  it('puts switches on one line, one-line sections under it, tables after the gates in their order, the rest as JSON', () => {
    const text = renderGatesStatus(
      status({
        valve: { open: true },
        level: { value: 0.5, bands: { lo: 0.25, hi: 0.75 } },
        late: [{ name: 'x' }],
        early: [],
        bare: { anything: 1 },
        unknown: { said: 'as is' },
      }),
      { sections: [valve, level, table('late'), table('early', 10), { key: 'bare', title: 'Bare', gates: ['g'], views: [] }] },
    );
    const lines = text.split('\n');

    expect(lines).toContain('valve OPEN');
    expect(lines).toContain('level 0.50 (LOW < 0.25 <= OK < 0.75 <= HIGH)');
    expect(lines.indexOf('valve OPEN')).toBeLessThan(lines.indexOf('dead letters 0 in quantum:stream:dlq'));
    // The ordered table first (empty: it says so), then the others as the server listed them.
    const at = (line: string) => lines.indexOf(line);
    expect(at('Table early')).toBeGreaterThan(at('dead letters 0 in quantum:stream:dlq'));
    expect(lines[at('Table early') + 1]).toBe('No early.');
    expect(at('Table late')).toBeGreaterThan(at('Table early'));
    expect(at('Bare')).toBeGreaterThan(at('Table late'));
    expect(text).toContain('anything');
    expect(at('Unknown')).toBeGreaterThan(at('Bare'));
    expect(text).toContain('as is');
  });

  it('says a switch it could not read is unknown', () => {
    expect(renderGatesStatus(status({ valve: null }), { sections: [valve] }).split('\n')).toContain('valve unknown');
  });

  it('names the Redis it is out of when not ready, from the outage or the instance', () => {
    const outage = { cause: 'unreachable', detail: 'connection reconnecting', since: 1_795_000_000_000, sections: ['dead letters'] };
    const down = (extra: Record<string, unknown>) => renderGatesStatus(status({ redis_ready: false, ...extra })).split('\n')[0];
    expect(down({ redis_fault: { ...outage, address: 'redis://10.0.0.5:6379/0' } })).toMatch(
      /redis NOT READY at redis:\/\/10\.0\.0\.5:6379\/0$/,
    );
    expect(down({ instance: { name: 'g', hostname: 'h', port: 8080, redis: 'redis://127.0.0.1:6380/0' } })).toMatch(
      /NOT READY at redis:\/\/127\.0\.0\.1:6380\/0$/,
    );
    expect(renderGatesStatus(status({})).split('\n')[0]).toMatch(/redis ready$/);
  });
});

describe("the heat section's terminal line", () => {
  const sentence = (heatSection.views ?? []).find((v) => v.shape === 'sentence')!;
  const heat = (value: Partial<HeatStatus>): HeatStatus => ({
    value: null,
    bucket: null,
    unknown: null,
    fail_closed: null,
    lower_bound: null,
    updated_at: null,
    thresholds: null,
    history: [],
    ...value,
  });

  it('says the heat is unknown and why after a fail-closed decision, not a measured 0 COLD', () => {
    expect(renderView(heat({ unknown: 'unknown (portfolio_state_missing)' }), sentence)).toBe(
      'portfolio heat unknown (portfolio_state_missing)',
    );
    expect(renderView(heat({ value: 0.0271, bucket: 'COLD' }), sentence)).toBe('portfolio heat 0.0271 COLD');
  });
});
