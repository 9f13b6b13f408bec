import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../scripts/release.sh');

/**
 * scripts/release.sh's switch, list and prune on releases laid out as `install` leaves them (a
 * directory with dist/build-info.json), with the gates stood in for by a process whose working
 * directory is the `current` link, as the units' WorkingDirectory makes it: the kernel resolves
 * the link when it starts, so it keeps running from its release after a switch, as node does.
 * The install itself (npm ci, build) runs in docs-upgrade.test.ts.
 */
/**
 * The release's CLI as far as release.sh uses it: `rehearse . --record FILE [--accept REASON |
 * --accept-other REASON]`, printing its table, writing its record and answering `exit` (0 the
 * same, 1 differences, 2 could not run); with `found` 'other' its one difference is in other
 * fields only, which --accept-other accepts (exit 0, scope other), as the CLI does. Its own
 * behaviour is test/integration/rehearse-cli.test.ts's.
 */
function rehearsingCli(exit: number, found: 'verdict' | 'other' | 'not-rehearsed' = 'verdict'): string {
  const verdicts = exit === 1 && found === 'verdict' ? 1 : 0;
  const others = exit === 1 && found === 'other' ? 1 : 0;
  // Decisions it did not rehearse (another tape version, cut entries): no pass, never accepted as other fields.
  const notRehearsed = exit === 1 && found === 'not-rehearsed' ? 6 : 0;
  return [
    '#!/usr/bin/env bash',
    'record="" accept="" other=""',
    'while [ $# -gt 0 ]; do case "$1" in --record) record=$2; shift ;; --accept) accept=$2; shift ;; --accept-other) other=$2; shift ;; esac; shift; done',
    `echo "GATE      DECISION              SAME  VERDICT CHANGED  OTHER FIELDS ONLY  UNANSWERABLE"`,
    `echo "governor  event=permit            ${exit === 1 ? 2 : 3}     ${verdicts}                ${others}                  0"`,
    `echo "Not rehearsed: ${notRehearsed} taped decisions${notRehearsed > 0 ? ' (6 of a tape version the release does not read): no pass' : ''}."`,
    'code=' + exit,
    `accepted=null; [ -n "$accept" ] && accepted=$(printf '{"reason":"%s","by":"ops","at":2,"scope":"all"}' "$accept")`,
    `if [ -n "$other" ] && [ ${verdicts + notRehearsed} -eq 0 ] && [ ${exit} -ne 2 ]; then accepted=$(printf '{"reason":"%s","by":"ops","at":2,"scope":"other"}' "$other"); code=0; fi`,
    `printf '{"at":1,"decisions":3,"differ":${verdicts + others},"verdicts":${verdicts},"others":${others},"unanswerable":0,"accepted":%s}\\n' "$accepted" >"$record"`,
    'exit $code',
    '',
  ].join('\n');
}

describe('scripts/release.sh: a switch rehearses the release first', () => {
  let base: string;
  const release = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((done) =>
      execFile('bash', [script, ...args], { env: { ...process.env, QG_BASE: base } }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
  const built = (id: string, rehearsalExit: number, found: 'verdict' | 'other' | 'not-rehearsed' = 'verdict') => {
    mkdirSync(join(base, 'releases', id, 'dist'), { recursive: true });
    mkdirSync(join(base, 'releases', id, 'bin'), { recursive: true });
    writeFileSync(join(base, 'releases', id, 'dist/build-info.json'), '{}');
    writeFileSync(join(base, 'releases', id, 'bin/quantum-gates.js'), rehearsingCli(rehearsalExit, found), { mode: 0o755 });
  };
  const current = () => readlinkSync(join(base, 'current'));
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'qg-releases-'));
    built('20260101T000000Z-aaaaaaaaaaaa', 2); // the first switch has no running gates to rehearse on
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('refuses a release that would decide differently, with the table; --accept-differences switches and records why', async () => {
    expect((await release('switch', 'newest')).code).toBe(0);
    built('20260102T000000Z-bbbbbbbbbbbb', 1);
    const refused = await release('switch', 'newest');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('governor  event=permit            2     1                0');
    expect(refused.out).toContain('--accept-differences REASON');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');
    // A verdict change is not an other field's: --accept-other-differences refuses it still.
    const other = await release('switch', 'newest', '--accept-other-differences', 'only the echo');
    expect(other.code).toBe(2);
    expect(other.out).toContain('which --accept-other-differences does not accept');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');

    const accepted = await release('switch', 'newest', '--accept-differences', 'HEAT_MIN lowered on purpose');
    expect(accepted.code, accepted.out).toBe(0);
    expect(current()).toBe('releases/20260102T000000Z-bbbbbbbbbbbb');
    const record = JSON.parse(readFileSync(join(base, 'releases/20260102T000000Z-bbbbbbbbbbbb/rehearsal.json'), 'utf8')) as {
      differ: number;
      accepted: { reason: string } | null;
    };
    expect(record).toMatchObject({ differ: 1, accepted: { reason: 'HEAT_MIN lowered on purpose', scope: 'all' } });
  });

  it('differences in other fields only: refused without a flag, switched with --accept-other-differences, recorded who and why', async () => {
    expect((await release('switch', 'newest')).code).toBe(0);
    built('20260102T000000Z-bbbbbbbbbbbb', 1, 'other');
    const refused = await release('switch', 'newest');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('--accept-other-differences REASON when none changes its verdict');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');

    const accepted = await release('switch', 'newest', '--accept-other-differences', 'debug_json echoes the new threshold');
    expect(accepted.code, accepted.out).toBe(0);
    expect(accepted.out).toContain('other differences accepted (debug_json echoes the new threshold)');
    expect(current()).toBe('releases/20260102T000000Z-bbbbbbbbbbbb');
    const record = JSON.parse(readFileSync(join(base, 'releases/20260102T000000Z-bbbbbbbbbbbb/rehearsal.json'), 'utf8')) as unknown;
    expect(record).toMatchObject({
      verdicts: 0,
      others: 1,
      accepted: { reason: 'debug_json echoes the new threshold', by: 'ops', scope: 'other' },
    });
  });

  it('refuses a release whose rehearsal left taped decisions unrehearsed (no difference found), with or without --accept-other-differences', async () => {
    expect((await release('switch', 'newest')).code).toBe(0);
    built('20260102T000000Z-bbbbbbbbbbbb', 1, 'not-rehearsed');
    const refused = await release('switch', 'newest');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('Not rehearsed: 6 taped decisions');
    expect(refused.out).toContain('did not rehearse');
    const other = await release('switch', 'newest', '--accept-other-differences', 'only the echo');
    expect(other.code).toBe(2);
    expect(other.out).toContain('which --accept-other-differences does not accept');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');
  });

  it('--accept-other-differences does not switch to a release that cannot be rehearsed', async () => {
    expect((await release('switch', 'newest')).code).toBe(0);
    built('20260102T000000Z-bbbbbbbbbbbb', 2);
    const refused = await release('switch', 'newest', '--accept-other-differences', 'a reason');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('could not be rehearsed');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');
  });

  it('a release that decides the same switches at once; one that cannot be rehearsed is refused; a rollback is not rehearsed', async () => {
    await release('switch', 'newest');
    built('20260102T000000Z-bbbbbbbbbbbb', 0);
    expect((await release('switch', 'newest')).code).toBe(0);
    expect(current()).toBe('releases/20260102T000000Z-bbbbbbbbbbbb');
    built('20260103T000000Z-cccccccccccc', 2);
    const refused = await release('switch', 'newest');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('could not be rehearsed');
    // Back to the release before: code that ran (its own CLI would answer 2 here).
    expect((await release('switch', 'previous')).code).toBe(0);
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');
  });
});

describe('scripts/release.sh: previous is the release that ran, and the running one is never pruned', () => {
  let base: string;
  const gates: ChildProcess[] = [];

  const release = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((done) =>
      execFile('bash', [script, ...args], { env: { ...process.env, QG_BASE: base } }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
  const built = (id: string) => {
    mkdirSync(join(base, 'releases', id, 'dist'), { recursive: true });
    mkdirSync(join(base, 'releases', id, 'bin'), { recursive: true });
    writeFileSync(join(base, 'releases', id, 'dist/build-info.json'), '{}');
    writeFileSync(join(base, 'releases', id, 'package.json'), '{}');
    writeFileSync(join(base, 'releases', id, 'bin/quantum-gates.js'), rehearsingCli(0), { mode: 0o755 });
  };
  /** `systemctl restart`: the old process stops, a new one starts in whatever `current` names now. */
  const restart = async () => {
    for (const child of gates.splice(0)) child.kill('SIGTERM');
    const child = spawn('sleep', ['300'], { cwd: join(base, 'current'), stdio: 'ignore' });
    gates.push(child);
    await new Promise((started) => child.once('spawn', started));
  };

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'qg-releases-'));
  });
  afterEach(() => {
    for (const child of gates.splice(0)) child.kill('SIGTERM');
    rmSync(base, { recursive: true, force: true });
  });

  it('switch previous goes back to the release that ran, not to one switched to and never restarted into', async () => {
    built('20260101T000000Z-aaaaaaaaaaaa');
    expect((await release('switch', 'newest')).code).toBe(0);
    await restart(); // A runs
    built('20260102T000000Z-bbbbbbbbbbbb');
    await release('switch', 'newest'); // current B, never restarted into
    built('20260103T000000Z-cccccccccccc');
    await release('switch', 'newest'); // current C; A still runs
    expect(readFileSync(join(base, 'previous'), 'utf8').trim()).toBe('20260101T000000Z-aaaaaaaaaaaa');
    expect((await release('list')).out).toBe(
      [
        '20260103T000000Z-cccccccccccc (current)',
        '20260102T000000Z-bbbbbbbbbbbb',
        '20260101T000000Z-aaaaaaaaaaaa (previous) (running)',
        '',
      ].join('\n'),
    );

    await restart(); // C runs
    const back = await release('switch', 'previous');
    expect(back.out).toContain('current -> 20260101T000000Z-aaaaaaaaaaaa');
    // The rollback's own previous is the release that ran until it: C.
    expect(readFileSync(join(base, 'previous'), 'utf8').trim()).toBe('20260103T000000Z-cccccccccccc');
  });

  it('prune never deletes the running release, nor the current or previous one', async () => {
    for (const id of ['20260101T000000Z-aaaaaaaaaaaa', '20260102T000000Z-bbbbbbbbbbbb']) {
      built(id);
      await release('switch', 'newest');
    }
    await restart(); // B runs; previous A
    built('20260103T000000Z-cccccccccccc');
    built('20260104T000000Z-dddddddddddd');
    await release('switch', '20260103T000000Z-cccccccccccc'); // previous B (running)
    await release('switch', '20260104T000000Z-dddddddddddd'); // previous B still (it runs), not C
    built('20260105T000000Z-eeeeeeeeeeee');

    const pruned = await release('prune', '1');

    expect(pruned.code).toBe(0);
    const left = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc', 'dddddddddddd', 'eeeeeeeeeeee'].filter((c) =>
      existsSync(join(base, 'releases', `2026010${'abcde'.indexOf(c[0]!) + 1}T000000Z-${c}`)),
    );
    // Kept: the newest (E), current (D) and previous, which is also the running one (B).
    expect(left).toEqual(['bbbbbbbbbbbb', 'dddddddddddd', 'eeeeeeeeeeee']);
    expect(readFileSync(join(base, 'previous'), 'utf8').trim()).toBe('20260102T000000Z-bbbbbbbbbbbb');
    expect((await release('prune', 'one')).code).toBe(2);
  });

  it('R1 runs, R2 and R3 are installed and switched to one after the other, prune 1: R1 is kept as previous and running, R2 goes', async () => {
    // The gates as node runs them from the `current` link, from a working directory outside the
    // releases: main.ts's holdRelease, which is what says which release a process runs.
    const holdRelease = async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          import.meta.resolve('tsx'),
          '-e',
          `import(${JSON.stringify(resolve(import.meta.dirname, '../../app/release-hold.ts'))}).then((m) => { m.holdRelease(process.argv[1]); process.stdout.write('held\\n'); setInterval(() => {}, 60_000); })`,
          join(base, 'current'),
        ],
        { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'inherit'] },
      );
      gates.push(child);
      await new Promise((held) => child.stdout!.once('data', held));
    };
    const [r1, r2, r3] = ['20260101T000000Z-aaaaaaaaaaaa', '20260102T000000Z-bbbbbbbbbbbb', '20260103T000000Z-cccccccccccc'];
    built(r1);
    await release('switch', 'newest');
    await holdRelease(); // R1 runs, and is never restarted
    built(r2);
    await release('switch', 'newest');
    built(r3);
    await release('switch', 'newest');

    const pruned = await release('prune', '1');

    expect(pruned.out).toContain(`kept ${r1} (current, previous or running)`);
    expect(pruned.out).toContain(`removed ${r2}`);
    expect(existsSync(join(base, 'releases', r1))).toBe(true);
    expect((await release('list')).out).toBe(`${r3} (current)\n${r1} (previous) (running)\n`);
    expect((await release('switch', 'previous')).out).toContain(`current -> ${r1}`);
  });

  it('with nothing seen running, a switch leaves previous as recorded: a release switched to and never run never becomes it', async () => {
    const [r1, r2, r3] = ['20260101T000000Z-aaaaaaaaaaaa', '20260102T000000Z-bbbbbbbbbbbb', '20260103T000000Z-cccccccccccc'];
    for (const id of [r1, r2, r3]) {
      built(id);
      await release('switch', 'newest');
    }
    expect(readFileSync(join(base, 'previous'), 'utf8').trim()).toBe(r1);
  });

  it('prune keeps a running release that is neither current nor previous', async () => {
    built('20260101T000000Z-aaaaaaaaaaaa');
    await release('switch', 'newest');
    await restart(); // A runs
    built('20260102T000000Z-bbbbbbbbbbbb');
    built('20260103T000000Z-cccccccccccc');
    await release('switch', '20260102T000000Z-bbbbbbbbbbbb');
    // Records the running A as previous; then make previous name another release, as a hand edit would.
    writeFileSync(join(base, 'previous'), '20260102T000000Z-bbbbbbbbbbbb\n');
    await release('switch', '20260103T000000Z-cccccccccccc');
    writeFileSync(join(base, 'previous'), '20260102T000000Z-bbbbbbbbbbbb\n');

    const pruned = await release('prune', '1');

    expect(pruned.out).toContain('kept 20260101T000000Z-aaaaaaaaaaaa (current, previous or running)');
    expect(existsSync(join(base, 'releases/20260101T000000Z-aaaaaaaaaaaa'))).toBe(true);
  });
});

describe('scripts/release.sh install: npm ci once per lock file, Node and npm', () => {
  let base: string;
  let source: string;
  let tools: string;
  const git = (...args: string[]) =>
    new Promise<string>((done, fail) =>
      execFile(
        'git',
        ['-c', 'user.name=release-test', '-c', 'user.email=release-test@localhost', ...args],
        { cwd: source },
        (error, stdout) => (error ? fail(error) : done(stdout)),
      ),
    );
  const install = () =>
    new Promise<{ code: number; out: string }>((done) =>
      execFile(
        'bash',
        [script, 'install', source],
        { env: { ...process.env, QG_BASE: base, PATH: `${tools}:${process.env.PATH ?? ''}` } },
        (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
  /** The npm commands the installs ran, one a line. */
  const npmCalls = () => readFileSync(join(base, 'npm.log'), 'utf8').trim().split('\n');
  const commitLock = async (lock: string, message: string) => {
    writeFileSync(join(source, 'package-lock.json'), lock);
    await git('add', '-A');
    await git('commit', '--quiet', '--allow-empty', '-m', message);
  };

  beforeEach(async () => {
    base = mkdtempSync(join(tmpdir(), 'qg-releases-'));
    source = join(base, 'source');
    tools = join(base, 'bin');
    mkdirSync(source);
    mkdirSync(tools);
    // npm as the install uses it: ci installs a production and a development package (the one
    // naming the lock file it came from), the build writes dist/, prune drops the development one.
    writeFileSync(
      join(tools, 'npm'),
      [
        '#!/usr/bin/env bash',
        `echo "$*" >>"${join(base, 'npm.log')}"`,
        'case "$1" in',
        '  --version) echo 10.9.9 ;;',
        '  ci) mkdir -p node_modules/prod node_modules/dev-tool && sha256sum package-lock.json >node_modules/prod/installed-from ;;',
        '  run) mkdir -p dist && echo "{}" >dist/build-info.json ;;',
        '  prune) rm -rf node_modules/dev-tool ;;',
        'esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    writeFileSync(join(source, 'package.json'), '{"version":"1.0.0"}\n');
    await git('init', '--quiet');
    await commitLock('{"lockfileVersion":3,"packages":{"node_modules/prod":{"version":"1.0.0"}}}\n', 'first');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('the first install runs npm ci; one of the same lock file copies that install; a changed lock file runs npm ci again', async () => {
    const first = await install();
    expect(first.code, first.out).toBe(0);
    expect(npmCalls().filter((call) => call.startsWith('ci'))).toHaveLength(1);
    const releaseA = join(base, 'releases', first.out.trim());
    expect(existsSync(join(releaseA, 'node_modules/prod/installed-from'))).toBe(true);
    expect(existsSync(join(releaseA, 'node_modules/dev-tool')), 'pruned').toBe(false);

    await git('commit', '--quiet', '--allow-empty', '-m', 'no dependency changed');
    const second = await install();
    expect(second.code, second.out).toBe(0);
    // No second npm ci: the tree npm ci made for the first, development tools and all, then built and pruned.
    expect(npmCalls().filter((call) => call.startsWith('ci'))).toHaveLength(1);
    expect(npmCalls().filter((call) => call.startsWith('prune'))).toHaveLength(2);
    const releaseB = join(base, 'releases', second.out.trim());
    expect(releaseB).not.toBe(releaseA);
    expect(readFileSync(join(releaseB, 'node_modules/prod/installed-from'), 'utf8')).toBe(
      readFileSync(join(releaseA, 'node_modules/prod/installed-from'), 'utf8'),
    );
    expect(existsSync(join(releaseB, 'node_modules/dev-tool')), 'pruned').toBe(false);
    expect(existsSync(join(releaseB, 'dist/build-info.json'))).toBe(true);

    await commitLock('{"lockfileVersion":3,"packages":{"node_modules/prod":{"version":"2.0.0"}}}\n', 'a dependency changed');
    const third = await install();
    expect(third.code, third.out).toBe(0);
    expect(npmCalls().filter((call) => call.startsWith('ci'))).toHaveLength(2);
    const releaseC = join(base, 'releases', third.out.trim());
    expect(readFileSync(join(releaseC, 'node_modules/prod/installed-from'), 'utf8')).not.toBe(
      readFileSync(join(releaseA, 'node_modules/prod/installed-from'), 'utf8'),
    );
    // One install kept: the last lock file's.
    expect(readdirSync(join(base, '.install-cache')).filter((name) => !name.startsWith('.'))).toHaveLength(1);
  });
});

/**
 * The release's CLI for the shadow step: `rehearse` decides the same (exit 0), `shadow --beside
 * current --for D --min-decisions K --port 0 --record FILE` prints its counts and records whether
 * it passed, as the CLI does (test/integration/cli-shadow.test.ts runs the real one).
 */
function shadowingCli(unexplained: number): string {
  const passed = unexplained === 0;
  return [
    '#!/usr/bin/env bash',
    'command=$1; record="" args="$*"',
    'while [ $# -gt 0 ]; do case "$1" in --record) record=$2; shift ;; esac; shift; done',
    'if [ "$command" = rehearse ]; then echo \'{"at":1,"decisions":3,"differ":0,"verdicts":0,"others":0,"unanswerable":0,"accepted":null}\' >"$record"; exit 0; fi',
    'echo "shadow $args" >>"$(dirname "$record")/shadow.calls"',
    `echo "Compared 120: ${120 - unexplained} the same, 0 documented, ${unexplained} unexplained; 0 unpaired."`,
    `echo '{"compared":120,"unexplained":${unexplained},"passed": ${passed}}' >"$record"`,
    `exit ${passed ? 0 : 1}`,
    '',
  ].join('\n');
}

describe('scripts/release.sh: the shadow step between install and switch', () => {
  let base: string;
  const release = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; out: string }>((done) =>
      execFile('bash', [script, ...args], { env: { ...process.env, QG_BASE: base, ...env } }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
  const built = (id: string, unexplained: number) => {
    mkdirSync(join(base, 'releases', id, 'dist'), { recursive: true });
    mkdirSync(join(base, 'releases', id, 'bin'), { recursive: true });
    writeFileSync(join(base, 'releases', id, 'dist/build-info.json'), '{}');
    writeFileSync(join(base, 'releases', id, 'bin/quantum-gates.js'), shadowingCli(unexplained), { mode: 0o755 });
  };
  const current = () => readlinkSync(join(base, 'current'));
  beforeEach(async () => {
    base = mkdtempSync(join(tmpdir(), 'qg-releases-'));
    built('20260101T000000Z-aaaaaaaaaaaa', 0);
    await release(['switch', 'newest']);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('runs the release beside the current one for the time and count given, and a release whose shadow passed switches', async () => {
    built('20260102T000000Z-bbbbbbbbbbbb', 0);
    const shadow = await release(['shadow', 'newest', '2h', '500']);
    expect(shadow.code).toBe(0);
    expect(shadow.out).toContain('shadow passed');
    const dir = join(base, 'releases/20260102T000000Z-bbbbbbbbbbbb');
    expect(readFileSync(join(dir, 'shadow.calls'), 'utf8')).toContain(
      'shadow --beside current --for 2h --min-decisions 500 --port 0 --record',
    );
    const switched = await release(['switch', 'newest']);
    expect(switched.code).toBe(0);
    expect(switched.out).toContain('shadow passed');
    expect(current()).toBe('releases/20260102T000000Z-bbbbbbbbbbbb');
  });

  it('refuses a release whose shadow showed an unexplained verdict difference, unless --accept-differences says why', async () => {
    built('20260102T000000Z-bbbbbbbbbbbb', 2);
    const shadow = await release(['shadow', 'newest', '1h', '100']);
    expect(shadow.code).toBe(2);
    expect(shadow.out).toContain('2 unexplained');
    const refused = await release(['switch', 'newest']);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('shadow did not pass');
    expect(current()).toBe('releases/20260101T000000Z-aaaaaaaaaaaa');
    const accepted = await release(['switch', 'newest', '--accept-differences', 'the cap was raised on purpose']);
    expect(accepted.code).toBe(0);
    expect(current()).toBe('releases/20260102T000000Z-bbbbbbbbbbbb');
  });

  it('with QG_REQUIRE_SHADOW=1 refuses a release that never ran in shadow', async () => {
    built('20260102T000000Z-bbbbbbbbbbbb', 0);
    const refused = await release(['switch', 'newest'], { QG_REQUIRE_SHADOW: '1' });
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('has not run in shadow');
    expect((await release(['switch', 'newest'])).code).toBe(0);
  });
});
