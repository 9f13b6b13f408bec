/**
 * Rehearsal on real traffic: the upstream producers of each era (test/pipeline/producers/, each
 * citing the upstream code it copies) drive every gate with the tape on; then the tape is
 * rehearsed with this same code (any difference is a defect of the tape), with a build whose one
 * default changed (exactly the decisions that setting moves differ), and with a build whose gate
 * reads one more key (that read is named as unanswerable, never answered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { governor } from '../../handlers/governor/index.js';
import { isClose } from '../../handlers/governor/plan.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import type { TapeRecord } from '../../app/tape/format.js';
import { rehearse, type RehearsalReport } from '../../cli/rehearse/rehearse.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { heatGateEnv, type Scenario } from './traffic.js';
import { taped, tapeScenario } from './taped-scenario.js';

/** The same gates, one of them replaced. */
const withGate = (replacement: AnyHandler): AnyHandler[] => allHandlers.map((h) => (h.name === replacement.name ? replacement : h));
/** A build whose gate has another default for one setting (the environment still overrides it). */
const withDefault = (gate: AnyHandler, name: string, value: string): AnyHandler[] =>
  withGate({ ...gate, config: (env: Readonly<Record<string, string | undefined>>) => gate.config({ [name]: value, ...env }) });

const emitted = (record: TapeRecord, stream: string) =>
  (record.effects as { op: string; stream?: string; fields?: Record<string, string> }[]).find((e) => e.op === 'emit' && e.stream === stream)
    ?.fields;

describe.each<Scenario>([
  { era: 'seed', mode: 'enforce' },
  { era: 'newest', mode: 'enforce' },
])('rehearsing the $era era pipeline', (scenario) => {
  let redis: TestRedis;
  const env = (): Record<string, string> => ({ ...heatGateEnv(scenario) });
  const run = (handlers: readonly AnyHandler[], gates?: string[]): Promise<RehearsalReport> =>
    rehearse(redis.client, { name: 'rehearsed', handlers }, env(), { gates, examples: 1_000 }, Date.now());

  beforeAll(async () => {
    redis = await startTestRedis();
    await tapeScenario(redis, scenario, env());
  }, 120_000);

  afterAll(async () => {
    await redis?.stop();
  });

  it('the same build decides every taped decision the same', async () => {
    const report = await run(allHandlers);
    expect(report.decisions).toBeGreaterThan(0);
    expect(report.differences).toEqual([]);
    // On a failure, the heat gate's tape as the rehearsal grouped it: id, batch, outcome, whether it carries the batch state.
    const tape = (await taped(redis.client, 'heat-gate')).map((t) => [t.id, t.batch, t.outcome, t.state !== undefined]);
    expect(report.unanswerableReads, JSON.stringify(tape)).toEqual([]);
    expect(report.same).toBe(report.decisions);
    const gates = new Set(report.kinds.map((k) => k.gate));
    expect(gates).toContain('heat-gate');
    expect(gates).toContain('governor');
  });

  it('a build with another HEAT_MIN default changes exactly the decisions whose heat bucket it moves', async () => {
    // The book's heat is 0.005: under the default HEAT_MIN (0.25) COLD, under 0.001 WARM.
    const report = await run(withDefault(heatGate, 'HEAT_MIN', '0.001'));
    const moved = (await taped(redis.client, 'heat-gate')).filter((t) => emitted(t, streams.harvestCalibrated)?.heat_bucket === 'COLD');
    expect(moved.length).toBeGreaterThan(0);
    const differing = report.kinds.filter((k) => k.differ > 0);
    expect(differing.every((k) => k.gate === 'heat-gate')).toBe(true);
    expect(report.differ).toBe(moved.length);
    expect(report.unanswerable).toBe(0);
    for (const d of report.differences)
      expect(d.changes).toContainEqual({
        field: `emit ${streams.harvestCalibrated} heat_bucket`,
        before: 'COLD',
        after: 'WARM',
        class: 'verdict',
      });
  });

  it('a build with another GOV_MAX_OPEN_POSITIONS default changes exactly the opens it now caps', async () => {
    // Four positions are open: a cap of 4 blocks every open (permitted under the default 10, or
    // blocked for a reason checked after the cap), and no close.
    const report = await run(withDefault(governor, 'GOV_MAX_OPEN_POSITIONS', '4'));
    const decisions = await taped(redis.client, 'governor');
    const isOpen = (t: TapeRecord) => !isClose(t.raw as unknown as ApplyPlan);
    const permittedOpens = decisions.filter((t) => isOpen(t) && emitted(t, streams.governorEvents)?.event === 'permit');
    expect(permittedOpens.length).toBeGreaterThan(0);
    const changed = new Set(report.differences.map((d) => d.entry));
    for (const open of permittedOpens) expect(changed).toContain(open.id);
    expect(report.differences.every((d) => d.gate === 'governor' && isOpen(decisions.find((t) => t.id === d.entry)!))).toBe(true);
    for (const d of report.differences)
      expect(d.changes).toContainEqual({
        field: `emit ${streams.governorEvents} reason`,
        before: expect.any(String),
        after: 'max_positions_reached',
        class: 'verdict',
      });
    expect(report.differ).toBe(report.differences.length);
    expect(report.verdicts).toBe(report.differ);
    expect(report.unanswerable).toBe(0);
  });

  it('a build whose gate reads one more key shows that read as unanswerable, naming the key', async () => {
    const base: AnyHandler = heatGate;
    const extra: AnyHandler = {
      ...base,
      handle: async (message, ctx) => {
        await ctx.redis.get('quantum:heat:new-input');
        return base.handle(message, ctx);
      },
    };
    const report = await run(withGate(extra));
    const heatDecisions = (await taped(redis.client, 'heat-gate')).filter((t) => t.outcome === 'handled').length;
    expect(report.unanswerableReads).toEqual([
      { gate: 'heat-gate', read: 'get quantum:heat:new-input', decisions: heatDecisions, example: expect.any(String) },
    ]);
    expect(report.differ).toBe(0);
  });
});
