import { describe, expect, it } from 'vitest';
import { slotTag } from '../../runtime/engine/connection.js';
import { deadLetterIndexKey, deadLetterIndexMember } from '../../runtime/engine/dead-letter.js';
import { createLogger } from '../../app/logging.js';
import { createRegistry, runtimeMetrics } from '../../runtime/engine/metrics.js';
import { Settler } from '../../runtime/engine/settle.js';

describe('dead letters trimmed by the per-gate bound', () => {
  it('are counted exactly, and warned about in one line per LOG_REPEAT_WINDOW_MS with a count of repeats', async () => {
    const lines: string[] = [];
    let now = 0;
    const log = createLogger(
      'info',
      {},
      {
        output: { write: (line: string) => lines.push(line) },
        format: 'json',
        repeatWindowMs: 60_000,
        now: () => now,
      },
    );
    const registry = createRegistry();
    const metrics = runtimeMetrics(registry, { version: '0.1.0', commit: 'source' });
    // As a consumer gives it: its logger names the handler.
    const settle = new Settler({
      handlerName: 'heat-gate',
      metrics,
      jobs: { add: async () => undefined },
      log: log.child({ handler: 'heat-gate' }),
    });

    // A flood: every commit trims a few.
    for (let i = 0; i < 100; i++) settle.trimmed(3);
    settle.trimmed(0);
    now = 60_001;
    settle.trimmed(1);

    const [series] = (await registry.getSingleMetric('quantum_gates_dead_letters_trimmed_total')!.get()).values;
    expect(series).toMatchObject({ labels: { handler: 'heat-gate' }, value: 301 });
    const warnings = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ level: 40, handler: 'heat-gate' });
    expect(String(warnings[0]!.msg)).toContain('DLQ_MAXLEN');
    // The 99 warnings held back in the window are counted in the next line written.
    expect(warnings[1]).toMatchObject({ repeated: 99 });
  });
});

describe("a gate's dead-letter index", () => {
  it("shares the dead-letter stream's hash slot, whether or not DLQ_STREAM has a hash tag", () => {
    expect(deadLetterIndexKey('quantum:stream:dlq', 'governor')).toBe('{quantum:stream:dlq}:gate:governor');
    expect(slotTag(deadLetterIndexKey('quantum:stream:dlq', 'governor'))).toBe(slotTag('quantum:stream:dlq'));
    expect(deadLetterIndexKey('{qt}:dlq', 'heat-gate')).toBe('{qt}:dlq:gate:heat-gate');
    expect(slotTag(deadLetterIndexKey('{qt}:dlq', 'heat-gate'))).toBe(slotTag('{qt}:dlq'));
  });

  it('names ids so that one millisecond sorts by sequence, as the stream does', () => {
    const members = ['1700000000000-10', '1700000000000-9', '1700000000000-0'].map(deadLetterIndexMember);
    expect([...members].sort()).toEqual(['1700000000000-0', '1700000000000-9', '1700000000000-10'].map(deadLetterIndexMember));
    expect(deadLetterIndexMember('1700000000000-9')).toBe('1700000000000-00000000000000000009');
  });
});
