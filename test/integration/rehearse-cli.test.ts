import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { deflateRawSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisTape } from '../../app/tape/store.js';
import { decodeTapeEntries, decodeTapeEntry, tapeKey } from '../../app/tape/format.js';
import type { RehearsalReport } from '../../cli/rehearse/rehearse.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys, untilStreamLength } from '../support/until.js';
import { runCli } from './cli-harness.js';

const root = resolve(import.meta.dirname, '../..');

/** This checkout's runtime side of a rehearsal, as a release's entry exports it (cli/rehearse/release-entry.ts). */
const RUNTIME = [
  `export { rehearseBatch, rehearsedGate } from ${JSON.stringify(join(root, 'cli/rehearse/rehearse-record.ts'))};`,
  `export { READ_TAPE_VERSIONS } from ${JSON.stringify(join(root, 'app/tape/format.ts'))};`,
].join('\n');

/**
 * A release directory as release.sh leaves one, as far as a rehearsal reads it: dist/handlers/index.js
 * (its gates and its runtime's side of a rehearsal, bundled with their Lua scripts beside them) and
 * dist/build-info.json. `source` is the entry's module text, importing this checkout's sources;
 * `runtime` its runtime's exports (this checkout's unless given; '' for a release built before a
 * rehearsal ran a release's own runtime).
 */
async function fakeRelease(source: string, runtime = RUNTIME): Promise<string> {
  // Inside the checkout, as a release's dist/ has its node_modules above it: the packages are not bundled.
  mkdirSync(join(root, 'test-artifacts'), { recursive: true });
  const dir = mkdtempSync(join(root, 'test-artifacts', 'qg-release-'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `${source}\n${runtime}\n`);
  await build({
    entryPoints: [entry],
    outfile: join(dir, 'dist/handlers/index.js'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'error',
  });
  for (const gate of readdirSync(join(root, 'handlers')))
    if (existsSync(join(root, 'handlers', gate, 'lua')))
      cpSync(join(root, 'handlers', gate, 'lua'), join(dir, 'dist/handlers', gate, 'lua'), { recursive: true });
  writeFileSync(join(dir, 'dist/build-info.json'), JSON.stringify({ version: '9.9.9', commit: 'fake' }));
  return dir;
}

const TRACE_ID = '6f1c2a4e-9b3d-4c5e-8f70-1a2b3c4d5e6f';

describe('quantum-gates rehearse', () => {
  let redis: TestRedis;
  let runtime: Runtime | undefined;
  const releases: string[] = [];
  const env = () => ({ REDIS_URL: redis.url });

  beforeAll(async () => {
    redis = await startTestRedis();
    const gates = { HANDLERS: 'position-snapshot,heat-gate' };
    runtime = await startRuntime(redis.url, gates, undefined, { tape: redisTape(gates) });
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await untilKeys(r, [keys.activePositions], () => r.sismember(keys.activePositions, 'ETHUSDT'), { what: 'snapshot applied' });
    // cli2 carries its producer's trace id (a v4 UUID), cli1 none (the gate makes one: randomUUID).
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'cli1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'cli2', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE', 'trace_id', TRACE_ID);
    await untilStreamLength(r, streams.harvestCalibrated, 2, { what: 'decisions' });

    const taped = async () => decodeTapeEntries(await r.xrangeBuffer(tapeKey('heat-gate'), '-', '+'));
    await waitFor(async () => (await taped()).length >= 2 || undefined, { what: 'taped' });
    await runtime.stop();
    runtime = undefined;
  }, 60_000);

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
    for (const dir of releases) rmSync(dir, { recursive: true, force: true });
  });

  it('this checkout on its own tape: every decision the same, exit 0', async () => {
    const result = await runCli(['rehearse', '.', '--json'], env());
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect(report.decisions).toBeGreaterThanOrEqual(3); // two proposals and a snapshot
    expect(report.same).toBe(report.decisions);
  });

  it('a release with another HEAT_MIN default: the changed decisions, field by field, exit 1', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        // ETHUSDT's heat is 0.027: COLD under the default HEAT_MIN (0.25), WARM under 0.02.
        "export const allHandlers = all.map((h) => (h.name === 'heat-gate' ? { ...h, config: (env) => h.config({ HEAT_MIN: '0.02', ...env }) } : h));",
      ].join('\n'),
    );
    releases.push(dir);
    const result = await runCli(['rehearse', dir, '--gate', 'heat-gate'], env());
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('same inputs, new code');
    // SAME, VERDICT CHANGED, OTHER FIELDS ONLY, UNANSWERABLE.
    expect(result.stdout).toMatch(/heat-gate\s+calibrated_action=PARTIAL_25\s+0\s+2\s+0\s+0/);
    expect(result.stdout).toContain('Verdicts that would change');
    expect(result.stdout).toContain(`emit ${streams.harvestCalibrated} heat_bucket: COLD → WARM`);
    expect(result.stdout).toContain('cli1 ETHUSDT');
    // The changed default named: as the running gates parsed it, as the release does.
    expect(result.stdout).toMatch(
      /Settings the release parses otherwise than the running gates did[^\n]*\n.*\n.*\nHEAT_MIN\s+0\.25\s+0\.02\s+heat-gate/,
    );

    // --html: the same, drawn (report calibrate --html's style): a bar per gate and decision, a table per difference.
    const page = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--html'], env());
    expect(page.code, page.stderr).toBe(1);
    expect(page.stdout).toMatch(/^<!doctype html>/);
    expect(page.stdout).toMatch(/<rect class="verdict"[^>]*><title>2 verdict changed<\/title>/);
    expect(page.stdout).toContain(
      `<td>emit ${streams.harvestCalibrated} heat_bucket</td><td class="before">COLD</td><td class="after">WARM</td><td>verdict</td>`,
    );
    expect(page.stdout.match(/<figure class="difference"/g)).toHaveLength(2);
  });

  it('a release that changes only what a decision echoes: other fields only, every one in --json with its class; --accept-other accepts them', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        // HEAT_MAX 0.65 → 0.9: ETHUSDT's heat (0.027) stays COLD; debug_json echoes the threshold.
        "export const allHandlers = all.map((h) => (h.name === 'heat-gate' ? { ...h, config: (env) => h.config({ HEAT_MAX: '0.9', ...env }) } : h));",
      ].join('\n'),
    );
    releases.push(dir);
    const json = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--json'], env());
    expect(json.code, json.stderr).toBe(1);
    const report = JSON.parse(json.stdout) as RehearsalReport;
    expect([report.differ, report.verdicts, report.others]).toEqual([2, 0, 2]);
    expect(report.differences.map((d) => [d.id, d.class])).toEqual([
      ['cli1', 'other'],
      ['cli2', 'other'],
    ]);
    for (const d of report.differences)
      expect(d.changes).toEqual([expect.objectContaining({ field: `emit ${streams.heatDecision} debug_json`, class: 'other' })]);
    const text = await runCli(['rehearse', dir, '--gate', 'heat-gate'], env());
    expect(text.stdout).not.toContain('Verdicts that would change');
    expect(text.stdout).toContain(`  heat-gate: 2 decisions, in\n    emit ${streams.heatDecision} debug_json (2), e.g. cli1:`);
    expect(text.stdout).toContain('2 different (0 in their verdict, 2 only in other fields)');

    const record = join(dir, 'rehearsal.json');
    const accepted = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--record', record, '--accept-other', 'HEAT_MAX echoed'], {
      ...env(),
      USER: 'ops',
    });
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({
      differ: 2,
      verdicts: 0,
      others: 2,
      accepted: { reason: 'HEAT_MAX echoed', by: 'ops', scope: 'other' },
    });
  });

  it('--accept-other does not accept a verdict change: exit 1, nothing recorded as accepted', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        "export const allHandlers = all.map((h) => (h.name === 'heat-gate' ? { ...h, config: (env) => h.config({ HEAT_MIN: '0.02', ...env }) } : h));",
      ].join('\n'),
    );
    releases.push(dir);
    const record = join(dir, 'rehearsal.json');
    const result = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--record', record, '--accept-other', 'only echoes'], env());
    expect(result.code, result.stderr).toBe(1);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({ verdicts: 2, accepted: null });
  });

  it("the settings the gates taped, not the shell's; --env-file rehearses other settings on purpose, naming them", async () => {
    // The shell's HEAT_MIN is no setting of the rehearsal: the gates ran with the default.
    const shell = await runCli(['rehearse', '.', '--gate', 'heat-gate', '--json'], { ...env(), HEAT_MIN: '0.02' });
    expect(shell.code, shell.stderr).toBe(0);
    expect((JSON.parse(shell.stdout) as RehearsalReport).settingChanges).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'qg-env-'));
    releases.push(dir);
    writeFileSync(join(dir, 'lower.env'), 'HEAT_MIN=0.02\n');
    const result = await runCli(['rehearse', '.', '--env-file', join(dir, 'lower.env'), '--gate', 'heat-gate', '--json'], env());
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect([report.verdicts, report.others]).toEqual([2, 0]);
    expect(report.settingChanges).toEqual([{ gate: 'heat-gate', setting: 'HEAT_MIN', running: '0.25', release: '0.02' }]);
  });

  it('a release whose gate reads one more key: that read named as unanswerable, exit 1', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        'export const allHandlers = all.map((h) =>',
        "  h.name === 'heat-gate' ? { ...h, handle: async (m, ctx) => { await ctx.redis.hget('quantum:heat:new-input', 'x'); return h.handle(m, ctx); } } : h,",
        ');',
      ].join('\n'),
    );
    releases.push(dir);
    const result = await runCli(['rehearse', dir, '--json'], env());
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect(report.unanswerableReads).toEqual([{ gate: 'heat-gate', read: 'hget quantum:heat:new-input x', decisions: 2, example: 'cli1' }]);
    expect(report.differ).toBe(0);
  });

  it('--limit and --since bound what is rehearsed', async () => {
    const limited = JSON.parse(
      (await runCli(['rehearse', '.', '--gate', 'heat-gate', '--limit', '1', '--json'], env())).stdout,
    ) as RehearsalReport;
    expect(limited.decisions).toBe(1);
    const [first] = await redis.client.xrangeBuffer(tapeKey('heat-gate'), '-', '+', 'COUNT', 1);
    const [record] = decodeTapeEntry(first![1]);
    expect(record!.gate).toBe('heat-gate');
    // Nothing to rehearse is no pass: exit 2, naming where it read.
    const none = await runCli(['rehearse', '.', '--since', new Date(Date.now() + 60_000).toISOString(), '--json'], env());
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no taped decision of heat-gate, position-snapshot since the time given in Redis ${redis.url}`);
  });

  it('no tape where it reads (another db, TAPE_MAXLEN=0, tapes deleted): exit 2, naming the Redis and db', async () => {
    const elsewhere = await runCli(['rehearse', '.'], { REDIS_URL: `${redis.url}/5` });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain('no gate has a tape in Redis');
    expect(elsewhere.stderr).toContain('db 5');
    const named = await runCli(['rehearse', '.', '--gate', 'governor'], env());
    expect(named.code).toBe(2);
    expect(named.stderr).toContain('no taped decision of governor');
  });

  it('the report names the tape: its Redis, db and time span', async () => {
    const result = await runCli(['rehearse', '.', '--json'], env());
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect(report.tape).toEqual({ redis: expect.stringMatching(/ db 0$/), from: expect.any(Number), to: expect.any(Number) });
    const text = await runCli(['rehearse', '.'], env());
    expect(text.stdout).toMatch(/The tape: Redis redis:\/\/127\.0\.0\.1:\d+\/? db 0, decisions taped \S+ to \S+/);
  });

  it('a taped gate the release lacks (renamed, removed): exit 1 naming it', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        "export const allHandlers = all.map((h) => (h.name === 'heat-gate' ? { ...h, name: 'heat-gate-2' } : h));",
      ].join('\n'),
    );
    releases.push(dir);
    const result = await runCli(['rehearse', dir], env());
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('Taped gates the release does not have (their decisions not rehearsed): heat-gate');
  });

  it('an id the input carried is compared as written: a release that replaces the trace id differs on that decision only', async () => {
    const dir = await fakeRelease(
      [
        `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
        "export const allHandlers = all.map((h) => (h.name === 'heat-gate' ? { ...h, handle: (m, ctx) => h.handle({ ...m, trace_id: undefined }, ctx) } : h));",
      ].join('\n'),
    );
    releases.push(dir);
    const result = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--json'], env());
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect(report.differences.map((d) => d.id)).toEqual(['cli2']);
    expect(report.differences[0]!.changes).toContainEqual({
      field: `emit ${streams.harvestCalibrated} trace_id`,
      before: TRACE_ID,
      after: '<random id>',
      class: 'other',
    });
  });

  it('--record writes the summary release.sh keeps with the release, --accept the reason and who gave it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-record-'));
    releases.push(dir);
    const record = join(dir, 'rehearsal.json');
    const result = await runCli(['rehearse', '.', '--record', record, '--accept', 'a reason'], { ...env(), USER: 'ops' });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({
      decisions: expect.any(Number),
      differ: 0,
      unanswerable: 0,
      accepted: { reason: 'a reason', by: 'ops', at: expect.any(Number) },
    });
  });

  it('--accept names the operator as every operator command does: the login name when the shell sets no $USER (cron, a unit)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-record-'));
    releases.push(dir);
    const record = join(dir, 'rehearsal.json');
    const result = await runCli(['rehearse', '.', '--record', record, '--accept', 'a reason'], env());
    expect(result.code, result.stderr).toBe(0);
    const { accepted } = JSON.parse(readFileSync(record, 'utf8')) as { accepted: { by: string } };
    expect(accepted.by).toBe(userInfo().username);
  });

  it('exit 2 when it cannot run: no such release, or Redis unreachable', async () => {
    const missing = await runCli(['rehearse', '/nonexistent/release'], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('not a release directory');
    const unreachable = await runCli(['rehearse', '.'], { REDIS_URL: 'redis://127.0.0.1:1', QG_REDIS_TIMEOUT_MS: '500' });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain('could not rehearse');
  });

  it('a record of another tape version is named, not compared; one of version 1 is rehearsed; an entry that does not decode is skipped and named by its id', async () => {
    const r = redis.client;
    const [[, fields]] = (await r.xrangeBuffer(tapeKey('heat-gate'), '-', '+', 'COUNT', 1)) as [[Buffer, Buffer[]]];
    const [record] = decodeTapeEntry(fields);
    const future = deflateRawSync(JSON.stringify([{ ...record, v: 4, id: 'from-v4' }]));
    const fromV4 = await r.xadd(tapeKey('heat-gate'), '*', 'z', future);
    // As the previous release wrote it: one commit's records, every call whole.
    const fromV1 = await r.xadd(tapeKey('heat-gate'), '*', 'z', deflateRawSync(JSON.stringify([{ ...record, v: 1, batch: 'from-v1' }])));
    const broken = await r.xadd(tapeKey('heat-gate'), '*', 'z', deflateRawSync('[{"v":1,"gate":"heat').subarray(0, 8));
    const result = await runCli(['rehearse', '.', '--gate', 'heat-gate'], env());
    // Not rehearsed is no pass: exit 1, the last line counting each.
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('heat-gate: 1 records of tape version 4 (this CLI reads 1, 2 and 3) not rehearsed, e.g. from-v4');
    expect(result.stdout).toContain(`heat-gate entry ${broken}:`);
    expect(result.stdout).toMatch(/3 the same, 0 different, 0 unanswerable/);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      'Not rehearsed: 2 taped decisions (1 of a tape version the release does not read; 1 tape entries that do not decode (cut or another format: each counted once)): no pass.',
    );
    // The tape as it was, for the tests after this one.
    await r.xdel(tapeKey('heat-gate'), fromV4!, fromV1!, broken!);
  });

  it('a tape whose every record is of a version the release does not read: nothing rehearsed, exit 1, never a pass', async () => {
    const source = await redis.client.xrangeBuffer(tapeKey('heat-gate'), '-', '+', 'COUNT', 1);
    const [record] = decodeTapeEntry(source[0]![1]);
    const gate = 'heat-gate-future';
    await redis.client.xadd(tapeKey(gate), '*', 'z', deflateRawSync(JSON.stringify([{ ...record, v: 9, gate }])));
    try {
      const dir = await fakeRelease(
        [
          `import { allHandlers as all } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
          `export const allHandlers = [...all, { ...all.find((h) => h.name === 'heat-gate'), name: '${gate}' }];`,
        ].join('\n'),
      );
      releases.push(dir);
      const result = await runCli(['rehearse', dir, '--gate', gate], env());
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toContain('0 the same, 0 different, 0 unanswerable.');
      expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
        'Not rehearsed: 1 taped decisions (1 of a tape version the release does not read): no pass.',
      );
    } finally {
      await redis.client.del(tapeKey(gate));
    }
  });

  it("a tape's entries cut in half: each named, exit 1, never a pass", async () => {
    const gate = 'heat-gate-cut';
    for (const [, fields] of await redis.client.xrangeBuffer(tapeKey('heat-gate'), '-', '+')) {
      const whole = fields[1]!;
      await redis.client.xadd(tapeKey(gate), '*', 'z', whole.subarray(0, Math.floor(whole.length / 2)));
    }
    try {
      const result = await runCli(['rehearse', '.', '--gate', gate], env());
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toMatch(/Not rehearsed: \d+ taped decisions \(\d+ tape entries that do not decode/);
    } finally {
      await redis.client.del(tapeKey(gate));
    }
  });

  it("a release is rehearsed with its own runtime, not this CLI's: a runtime that decides otherwise differs", async () => {
    const dir = await fakeRelease(
      `export { allHandlers } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`,
      [
        `import { rehearseBatch as base } from ${JSON.stringify(join(root, 'cli/rehearse/rehearse-record.ts'))};`,
        `export { rehearsedGate } from ${JSON.stringify(join(root, 'cli/rehearse/rehearse-record.ts'))};`,
        `export { READ_TAPE_VERSIONS } from ${JSON.stringify(join(root, 'app/tape/format.ts'))};`,
        // Its engine dead-letters what this one handles.
        "export const rehearseBatch = async (gate, records) => (await base(gate, records)).map((r) => ('outcome' in r ? { ...r, outcome: 'dead-letter:invalid' } : r));",
      ].join('\n'),
    );
    releases.push(dir);
    const result = await runCli(['rehearse', dir, '--gate', 'heat-gate', '--json'], env());
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as RehearsalReport;
    expect(report.verdicts).toBe(report.decisions);
    expect(report.differences[0]!.changes[0]).toEqual({
      field: 'outcome',
      before: 'handled',
      after: 'dead-letter:invalid',
      class: 'verdict',
    });
  });

  it('a release built before it exported its runtime is refused (exit 2), naming its own CLI', async () => {
    const dir = await fakeRelease(`export { allHandlers } from ${JSON.stringify(join(root, 'handlers/index.ts'))};`, '');
    releases.push(dir);
    const result = await runCli(['rehearse', dir], env());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`rehearse it with its own CLI (${join(dir, 'bin/quantum-gates.js')} rehearse .)`);
  });

  it("the documented what-if: QG_ENV_FILE=lower-heat.env rehearse . reads the checkout's private Redis and reports the verdict change, with --private too", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-whatif-'));
    releases.push(dir);
    writeFileSync(join(dir, 'lower-heat.env'), 'HEAT_MIN=0.02\n');
    // This test's Redis as the checkout's private one: its directory, and a record naming its port.
    const data = mkdtempSync(join(tmpdir(), 'qg-data-'));
    releases.push(data);
    symlinkSync(redis.dir, join(data, 'redis'));
    writeFileSync(join(data, 'redis', 'private-redis.json'), `${JSON.stringify({ port: redis.port, pid: process.pid })}\n`);
    const whatIf = { QG_DATA_DIR: data, QG_ENV_FILE: join(dir, 'lower-heat.env') };
    for (const args of [
      ['rehearse', '.', '--gate', 'heat-gate'],
      ['rehearse', '.', '--gate', 'heat-gate', '--private'],
    ]) {
      const result = await runCli(args, whatIf);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toContain('2 different (2 in their verdict, 0 only in other fields)');
      expect(result.stdout).toMatch(/HEAT_MIN\s+0\.25\s+0\.02\s+heat-gate/);
    }
    rmSync(join(data, 'redis', 'private-redis.json'));
  });
});
