import { describe, expect, it } from 'vitest';
import { commands } from '../../cli/commands/index.js';
import { statusUrl } from '../../cli/commands/status.js';
import { parseDuration, parseSince } from '../../cli/duration.js';
import type { CliIo } from '../../cli/io.js';
import { runCli } from '../../cli/run.js';
import { renderStatus } from '../../cli/status-view.js';

function memoryIo(env: Record<string, string> = {}): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (io.stdout += `${text}\n`),
    err: (text: string) => void (io.stderr += `${text}\n`),
    errRaw: (text: string) => void (io.stderr += text),
    env,
    errIsTty: false,
    now: () => Date.UTC(2026, 0, 28, 12),
  };
  return io;
}

describe('every command', () => {
  it.each(commands.map((c) => [c.name]))('%s has --help that exits 0 and shows its usage', async (name) => {
    const io = memoryIo();

    const code = await runCli([...name.split(' '), '--help'], io);

    expect(code).toBe(0);
    expect(io.stdout).toContain(`Usage: quantum-gates ${name}`);
    expect(io.stderr).toBe('');
  });

  it.each(commands.filter((c) => c.name !== 'start').map((c) => [c.name]))(
    '%s rejects an unknown option with exit 2 before touching Redis',
    async (name) => {
      const io = memoryIo({ REDIS_URL: 'redis://127.0.0.1:1' });

      const code = await runCli([...name.split(' '), '--no-such-option'], io);

      expect(code).toBe(2);
      expect(io.stderr).toContain("Unknown option '--no-such-option'");
      expect(io.stderr).not.toContain('cannot reach Redis');
    },
  );
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '24', 'h', '24x', '-1h', '0h', 'yesterday', '1h 30m'])('rejects "%s"', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseSince', () => {
  const now = Date.UTC(2026, 0, 28, 12);

  it('counts a duration back from now', () => {
    expect(parseSince('24h', now)).toBe(Date.UTC(2026, 0, 27, 12));
  });

  it('takes an ISO time as it is', () => {
    expect(parseSince('2026-01-27T00:00:00Z', now)).toBe(Date.UTC(2026, 0, 27));
  });

  it.each(['yesterday', '2026-13-45', '12345'])('rejects "%s"', (text) => {
    expect(parseSince(text, now)).toBeUndefined();
  });
});

describe('statusUrl', () => {
  it.each([
    [{}, undefined, 'http://127.0.0.1:8080/status'],
    [{ PORT: '9000' }, undefined, 'http://127.0.0.1:9000/status'],
    [{ QG_URL: 'https://gates.internal:8443' }, undefined, 'https://gates.internal:8443/status'],
    [{ QG_URL: 'https://ops.example/gates/' }, undefined, 'https://ops.example/status'],
    [{ QG_URL: 'http://a:1' }, 'http://b:2', 'http://b:2/status'],
  ])('with env %j and --url %s asks %s', (env, override, url) => {
    expect(statusUrl(memoryIo(env as Record<string, string>), override)).toBe(url);
  });
});

describe('renderStatus', () => {
  it('prints scalars as key/value lines, arrays of objects as tables and nested objects as sections', () => {
    const text = renderStatus({
      generatedAt: '2026-01-28T12:00:00Z',
      killSwitch: false,
      gates: [
        { name: 'heat-gate', mode: 'shadow', processed: 12 },
        { name: 'governor', mode: 'enforce', processed: 3 },
      ],
      heat: { value: 0.123456, bucket: 'COLD' },
    });

    expect(text).toMatch(/^generatedAt\s+2026-01-28T12:00:00Z$/m);
    expect(text).toMatch(/^killSwitch\s+false$/m);
    expect(text).toMatch(/^Gates$/m);
    expect(text).toMatch(/^\s+NAME\s+MODE\s+PROCESSED$/m);
    expect(text).toMatch(/^\s+heat-gate\s+shadow\s+12$/m);
    expect(text).toMatch(/^Heat\n\s+value\s+0\.1235\n\s+bucket\s+COLD$/m);
  });

  it('shows empty lists as (none)', () => {
    expect(renderStatus({ decisions: [] })).toBe('Decisions\n  (none)');
  });
});
