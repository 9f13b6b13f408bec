/**
 * Tests of the rehearsal itself (issue #60, item 8): one-line mutants of the gates' sources, each
 * built as a release is (bundled apart from this checkout, its Lua beside it), rehearsed on the
 * newest era's recorded traffic with duplicates in it (plans and proposals sent again, as an
 * upstream retry or `inject --plan-id test1` twice does). Each test asserts exactly which taped
 * decisions come out otherwise, found from the tape itself, and 0 for the unchanged release.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { tapeKey, type TapeRecord } from '../../app/tape/format.js';
import { settingsKey, type TapedSettings } from '../../app/tape/settings.js';
import { rehearse, type RehearsalReport } from '../../cli/rehearse/rehearse.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { untilKeys } from '../support/until.js';
import { publishHarvestProposal } from './producers/harvest-proposal-publisher.js';
import { writePortfolioState } from './producers/portfolio-state-publisher.js';
import { taped, tapeScenario, untilGovernorTaped } from './taped-scenario.js';
import { EQUITY_USD, expectedHeat, heatGateEnv, kernelProposal, newestKernel, open, type Scenario } from './traffic.js';

const root = resolve(import.meta.dirname, '../..');
const scenario: Scenario = { era: 'newest', mode: 'enforce' };
// Four positions are open in the traffic (traffic.ts): a cap of 4 blocks every open max_positions_reached.
const env = (): Record<string, string> => ({ ...heatGateEnv(scenario), GOV_MAX_OPEN_POSITIONS: '4' });

/**
 * The traffic's heat is 0.0052 (traffic.ts expectedHeat): COLD under any HEAT_MIN the tests set but
 * 0.001. One proposal more is decided at a smaller equity, so its heat is 0.17: COLD under the
 * default HEAT_MIN (0.25), WARM under 0.05, the measured case (one decision of seven
 * changes its action, the others only the thresholds debug_json echoes).
 */
const HOT_EQUITY_USD = 300;
const hotterHeat = (expectedHeat * EQUITY_USD) / HOT_EQUITY_USD;

/** One line of one source file replaced: `from` must occur exactly once. */
interface Edit {
  readonly file: string;
  readonly from: string;
  readonly to: string;
}

/** The gates of this checkout with `edit` applied, built apart as a release's dist/handlers/index.js. */
async function mutant(dir: string, edit?: Edit): Promise<AnyHandler[]> {
  const src = mkdtempSync(join(dir, 'mutant-'));
  for (const folder of ['handlers', 'runtime', 'schemas', 'domain']) cpSync(join(root, folder), join(src, folder), { recursive: true });
  if (edit) {
    const path = join(src, edit.file);
    const text = readFileSync(path, 'utf8');
    expect(text.split(edit.from).length, `${edit.file} holds "${edit.from}" once`).toBe(2);
    writeFileSync(path, text.replace(edit.from, edit.to));
  }
  const out = join(src, 'dist/handlers/index.js');
  await build({
    entryPoints: [join(src, 'handlers/index.ts')],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    logLevel: 'error',
    // The mutant's dependencies are this checkout's (a release's own node_modules).
    nodePaths: [join(root, 'node_modules')],
  });
  for (const gate of readdirSync(join(src, 'handlers')))
    if (existsSync(join(src, 'handlers', gate, 'lua')))
      cpSync(join(src, 'handlers', gate, 'lua'), join(src, 'dist/handlers', gate, 'lua'), { recursive: true });
  return ((await import(pathToFileURL(out).href)) as { allHandlers: AnyHandler[] }).allHandlers;
}

const emitted = (record: TapeRecord, stream: string) =>
  (record.effects as { op: string; stream?: string; fields?: Record<string, string> }[]).find((e) => e.op === 'emit' && e.stream === stream)
    ?.fields;

/** Sends the newest `n` entries of `stream` again, fields as they were: a duplicate delivery of each. */
async function sendAgain(r: TestRedis['client'], stream: string, n: number): Promise<number> {
  const entries = await r.xrevrange(stream, '+', '-', 'COUNT', n);
  for (const [, fields] of entries.reverse()) await r.xadd(stream, '*', ...fields);
  return entries.length;
}

describe('rehearsing one-line mutants on the newest era traffic, duplicates included', () => {
  let redis: TestRedis;
  let dir: string;
  const run = (handlers: readonly AnyHandler[]): Promise<RehearsalReport> =>
    rehearse(redis.client, { name: 'mutant', handlers }, env(), { examples: 10_000 }, Date.now());

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qg-mutants-'));
    redis = await startTestRedis();
    const r = redis.client;
    await tapeScenario(redis, scenario, env(), async (plans) => {
      // Duplicates: every plan and the kernel's proposals sent again (plan ids the gates have seen).
      const again = (await sendAgain(r, streams.applyPlan, plans.closePlans.size + plans.openPlans.size)) + plans.closePlans.size;
      await sendAgain(r, streams.harvestProposal, newestKernel.size);
      const decided = 2 * (plans.closePlans.size + plans.openPlans.size);
      await untilGovernorTaped(r, decided, `governor taped (${again} sent again)`);
      // The one decision at a hotter book: the portfolio publisher's equity cut, then a close proposed.
      const decidedBefore = (await taped(r, 'heat-gate')).filter((t) => t.outcome === 'handled').length;
      await writePortfolioState(
        r,
        {
          equityUsd: HOT_EQUITY_USD,
          positionsNotionalUsd: open.reduce((sum, p) => sum + Math.abs(p.positionAmt * p.markPrice), 0),
          positionsCount: open.length,
          unrealizedPnlUsd: open.reduce((sum, p) => sum + p.unRealizedProfit, 0),
        },
        Date.now(),
      );
      await publishHarvestProposal(r, 'BTCUSDT', kernelProposal('BTCUSDT', 'FULL_CLOSE_PROPOSED', 0.71), Date.now());
      await untilKeys(
        r,
        [tapeKey('heat-gate')],
        async () => (await taped(r, 'heat-gate')).filter((t) => t.outcome === 'handled').length > decidedBefore || undefined,
        { timeoutMs: 20_000, what: 'the heat gate taped the proposal at the hotter book' },
      );
    });
  }, 180_000);

  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const governorReason = (t: TapeRecord) => emitted(t, streams.governorEvents)?.reason;

  it('the traffic holds duplicates: plan ids the governor and the heat bridge decided more than once', async () => {
    for (const gate of ['governor', 'heat-bridge']) {
      const ids = (await taped(redis.client, gate)).map((t) => t.raw.plan_id);
      expect(ids.length - new Set(ids).size, gate).toBeGreaterThan(0);
    }
  });

  it('the unchanged release: every decision the same, duplicates included, 0 unanswerable', async () => {
    const report = await run(await mutant(dir));
    expect(report.differences).toEqual([]);
    expect(report.unanswerableReads).toEqual([]);
    expect(report.gatesNotInRelease).toEqual([]);
    expect(report.same).toBe(report.decisions);
  });

  it('rehearsed from a shell without the settings the gates had (P26_MODE=enforce, GOV_MAX_OPEN_POSITIONS=4): 0 different, no setting named', async () => {
    const report = await rehearse(redis.client, { name: 'unchanged', handlers: await mutant(dir) }, {}, { examples: 10_000 }, Date.now());
    expect([report.differ, report.unanswerable]).toEqual([0, 0]);
    expect(report.same).toBe(report.decisions);
    expect(report.settingChanges).toEqual([]);
    expect(report.withoutSettings).toEqual([]);
  });

  it('a format-only change (a line broken in two): 0 different', async () => {
    const report = await run(
      await mutant(dir, {
        file: 'handlers/governor/gates.ts',
        from: 'const on = (cap: number) => cap > 0;',
        to: 'const on = (cap: number) =>\n  cap > 0;',
      }),
    );
    expect([report.differ, report.unanswerable]).toEqual([0, 0]);
  });

  it('a log-only change that reads the clock: 0 different (an extra reading shifts none of the others)', async () => {
    const report = await run(
      await mutant(dir, {
        file: 'handlers/governor/index.ts',
        from: '    async handle(plan, ctx) {',
        to: "    async handle(plan, ctx) { ctx.log.debug({ at: ctx.now() }, 'a mutant log line');",
      }),
    );
    expect([report.differ, report.unanswerable]).toEqual([0, 0]);
  });

  it('a threshold (HEAT_MIN 0.25 → 0.001): exactly the heat-gate decisions taped COLD differ, COLD → WARM', async () => {
    const report = await run(
      await mutant(dir, { file: 'handlers/heat-gate/config.ts', from: 'HEAT_MIN: envNumber(0.25)', to: 'HEAT_MIN: envNumber(0.001)' }),
    );
    const cold = (await taped(redis.client, 'heat-gate')).filter((t) => emitted(t, streams.harvestCalibrated)?.heat_bucket === 'COLD');
    expect(cold.length).toBeGreaterThan(0);
    expect(report.differences.map((d) => d.entry).sort()).toEqual(cold.map((t) => t.id).sort());
    for (const d of report.differences)
      expect(d.changes).toContainEqual({
        field: `emit ${streams.harvestCalibrated} heat_bucket`,
        before: 'COLD',
        after: 'WARM',
        class: 'verdict',
      });
    expect(report.unanswerable).toBe(0);
  });

  it('HEAT_MIN 0.25 → 0.05: the one decision whose action changes is a verdict change, listed first; the rest differ only in the echoed thresholds', async () => {
    const report = await run(
      await mutant(dir, { file: 'handlers/heat-gate/config.ts', from: 'HEAT_MIN: envNumber(0.25)', to: 'HEAT_MIN: envNumber(0.05)' }),
    );
    const decided = (await taped(redis.client, 'heat-gate')).filter((t) => emitted(t, streams.harvestCalibrated) !== undefined);
    const hot = decided.filter((t) => Number(emitted(t, streams.harvestCalibrated)!.heat_value) > 0.05);
    expect(hotterHeat).toBeGreaterThan(0.05);
    expect(hot).toHaveLength(1);
    expect(emitted(hot[0]!, streams.harvestCalibrated)).toMatchObject({ heat_bucket: 'COLD', calibrated_action: 'PARTIAL_25' });
    // The measured case: 7 different, 1 in its verdict, 6 only in debug_json's thresholds.
    expect(decided).toHaveLength(7);
    expect([report.differ, report.verdicts, report.others, report.unanswerable]).toEqual([7, 1, 6, 0]);
    const [first, ...rest] = report.differences;
    expect(first).toMatchObject({ gate: 'heat-gate', entry: hot[0]!.id, class: 'verdict' });
    expect(first!.changes).toContainEqual({
      field: `emit ${streams.harvestCalibrated} heat_bucket`,
      before: 'COLD',
      after: 'WARM',
      class: 'verdict',
    });
    expect(first!.changes.filter((c) => c.field.endsWith(' calibrated_action'))).toEqual([
      {
        field: `emit ${streams.harvestCalibrated} calibrated_action`,
        before: 'PARTIAL_25',
        after: expect.not.stringMatching(/^PARTIAL_25$/),
        class: 'verdict',
      },
    ]);
    // Its verdict's fields before its other ones.
    const classes = first!.changes.map((c) => c.class);
    expect(classes.indexOf('other')).toBeGreaterThan(classes.lastIndexOf('verdict'));
    expect(rest.map((d) => d.class)).toEqual(Array(6).fill('other'));
    expect(rest.map((d) => d.entry).sort()).toEqual(
      decided
        .filter((t) => t !== hot[0])
        .map((t) => t.id)
        .sort(),
    );
    for (const d of rest) expect(d.changes.map((c) => c.field)).toEqual([`emit ${streams.heatDecision} debug_json`]);
    expect(report.otherFields).toEqual([
      expect.objectContaining({ gate: 'heat-gate', field: `emit ${streams.heatDecision} debug_json`, decisions: 6 }),
    ]);
    expect(report.kinds.filter((k) => k.gate !== 'heat-gate').every((k) => k.differ === 0)).toBe(true);
    // The changed default is named, as the running gates parsed it and as the release does.
    expect(report.settingChanges).toEqual([{ gate: 'heat-gate', setting: 'HEAT_MIN', running: '0.25', release: '0.05' }]);
  });

  it('a comparison (max positions >= → >): exactly the opens taped max_positions_reached differ', async () => {
    const report = await run(
      await mutant(dir, {
        file: 'handlers/governor/gates.ts',
        from: 'snapshot.openPositions + snapshot.reservedPositions >= limits.maxOpenPositions',
        to: 'snapshot.openPositions + snapshot.reservedPositions > limits.maxOpenPositions',
      }),
    );
    const capped = (await taped(redis.client, 'governor')).filter((t) => governorReason(t) === 'max_positions_reached');
    expect(capped.length).toBeGreaterThan(0);
    expect(report.differences.map((d) => d.entry).sort()).toEqual(capped.map((t) => t.id).sort());
    expect(report.unanswerable).toBe(0);
  });

  it('a reason renamed (max_positions_reached → max_positions): exactly those decisions, that field', async () => {
    const report = await run(
      await mutant(dir, { file: 'handlers/governor/gates.ts', from: "? 'max_positions_reached'", to: "? 'max_positions'" }),
    );
    const capped = (await taped(redis.client, 'governor')).filter((t) => governorReason(t) === 'max_positions_reached');
    expect(report.differences.map((d) => d.entry).sort()).toEqual(capped.map((t) => t.id).sort());
    for (const d of report.differences)
      expect(d.changes).toContainEqual({
        field: `emit ${streams.governorEvents} reason`,
        before: 'max_positions_reached',
        after: 'max_positions',
        class: 'verdict',
      });
    expect(report.unanswerable).toBe(0);
  });

  it('a renamed gate: its taped decisions named as not in the release, the others the same', async () => {
    const report = await run(
      await mutant(dir, { file: 'handlers/governor/index.ts', from: "name: 'governor',", to: "name: 'governor-v2'," }),
    );
    expect(report.gatesNotInRelease).toEqual(['governor']);
    expect([report.differ, report.unanswerable]).toEqual([0, 0]);
  });
});

describe('settings on the tape: recorded with APPLY_MODE=production, rehearsed from a shell without it', () => {
  let redis: TestRedis;
  const recorded = { ...heatGateEnv(scenario), APPLY_MODE: 'production' };

  beforeAll(async () => {
    redis = await startTestRedis();
    await tapeScenario(redis, scenario, recorded);
  }, 180_000);

  afterAll(async () => {
    await redis?.stop();
  });

  it("each gate's settings are on the tape once, named by digest on its records; the rehearsal parses them: 0 different", async () => {
    const governor = await redis.client.hgetall(settingsKey('governor'));
    expect(Object.values(governor).map((json) => (JSON.parse(json) as TapedSettings).env)).toEqual([{ APPLY_MODE: 'production' }]);
    expect(new Set((await taped(redis.client, 'governor')).map((t) => t.settings))).toEqual(new Set(Object.keys(governor)));
    const report = await rehearse(redis.client, { name: 'unchanged', handlers: allHandlers }, {}, {}, Date.now());
    expect([report.differ, report.unanswerable, report.same]).toEqual([0, 0, report.decisions]);
    expect(report.settingChanges).toEqual([]);
  });

  it("without the taped settings (a tape from before them) the shell's are used, and the report says so", async () => {
    const r = redis.client;
    const kept = await r.hgetall(settingsKey('governor'));
    await r.del(settingsKey('governor'));
    try {
      const report = await rehearse(r, { name: 'unchanged', handlers: allHandlers }, {}, { gates: ['governor'] }, Date.now());
      const governed = (await taped(r, 'governor')).length;
      expect(report.withoutSettings).toEqual([{ gate: 'governor', decisions: governed }]);
      // Parsed as testnet, the default: the decisions the production path decided otherwise differ.
      expect(report.differ).toBeGreaterThan(0);
    } finally {
      await r.hset(settingsKey('governor'), kept);
    }
  });
});
