import { describe, expect, it } from 'vitest';
import { didYouMean } from '../../app/settings.js';
import { chooseEnvFile, type EnvFileSystem } from '../../cli/env-file.js';
import { UsageError } from '../../cli/errors.js';

function fsWith(files: Record<string, string | Error>): EnvFileSystem {
  return {
    exists: (path) => path in files,
    read: (path) => {
      const content = files[path];
      if (content === undefined || content instanceof Error) throw content ?? Object.assign(new Error('missing'), { code: 'ENOENT' });
      return content;
    },
  };
}

describe('CLI env file', () => {
  it("reads the unit's env file by default on a server, the shell's variables winning", () => {
    const fs = fsWith({ '/etc/quantum/quantum-gates.env': 'REDIS_URL=redis://gates-redis:6379/2\nP28_MODE=enforce\n' });

    const chosen = chooseEnvFile(['kill', 'status'], { P28_MODE: 'shadow' }, fs);

    expect(chosen).toEqual({
      argv: ['kill', 'status'],
      file: '/etc/quantum/quantum-gates.env',
      env: { REDIS_URL: 'redis://gates-redis:6379/2', P28_MODE: 'shadow' },
      byDefault: true,
    });
  });

  it("--private reads no units' env file by default; --env-file or $QG_ENV_FILE still give their settings (a what-if)", () => {
    const fs = fsWith({ '/etc/quantum/quantum-gates.env': 'REDIS_URL=redis://gates-redis:6379/2\n', 'lower-heat.env': 'HEAT_MIN=0.05\n' });
    expect(chooseEnvFile(['kill', 'on', '--private'], { A: '1' }, fs)).toEqual({
      argv: ['kill', 'on'],
      env: { A: '1' },
      privateRedis: true,
    });
    const withFile = { argv: ['rehearse', '.'], file: 'lower-heat.env', env: { HEAT_MIN: '0.05', A: '1' }, privateRedis: true };
    expect(chooseEnvFile(['rehearse', '.', '--private', '--env-file', 'lower-heat.env'], { A: '1' }, fs)).toEqual(withFile);
    expect(chooseEnvFile(['rehearse', '.', '--private'], { A: '1', QG_ENV_FILE: 'lower-heat.env' }, fs)).toEqual({
      ...withFile,
      env: { ...withFile.env, QG_ENV_FILE: 'lower-heat.env' },
    });
  });

  it('falls back to the per-gate common file, and to the environment alone where neither exists', () => {
    const common = fsWith({ '/etc/quantum/gates-common.env': 'REDIS_URL=redis://r:1/0\n' });
    expect(chooseEnvFile(['status'], {}, common).file).toBe('/etc/quantum/gates-common.env');
    expect(chooseEnvFile(['status'], { A: '1' }, fsWith({}))).toEqual({ argv: ['status'], env: { A: '1' } });
  });

  it('takes --env-file PATH or --env-file=PATH from anywhere in argv, and --no-env-file skips the default', () => {
    const fs = fsWith({ '/etc/quantum/quantum-gates.env': 'X=unit\n', '/tmp/a.env': 'X=a\n' });

    expect(chooseEnvFile(['kill', 'on', '--env-file', '/tmp/a.env', '--reason', 'r'], {}, fs)).toMatchObject({
      argv: ['kill', 'on', '--reason', 'r'],
      env: { X: 'a' },
    });
    expect(chooseEnvFile(['--env-file=/tmp/a.env', 'status'], {}, fs)).toMatchObject({ argv: ['status'], file: '/tmp/a.env' });
    expect(chooseEnvFile(['status', '--no-env-file'], {}, fs)).toEqual({ argv: ['status'], env: {} });
  });

  it('reads $QG_ENV_FILE as --env-file (npx passes a variable through where its Node takes --env-file for its own), --env-file and --no-env-file winning', () => {
    const fs = fsWith({ '/etc/quantum/quantum-gates.env': 'X=unit\n', '/tmp/a.env': 'X=a\n', '/tmp/b.env': 'X=b\n' });

    expect(chooseEnvFile(['status'], { QG_ENV_FILE: '/tmp/a.env' }, fs)).toMatchObject({ file: '/tmp/a.env', env: { X: 'a' } });
    expect(chooseEnvFile(['status', '--env-file', '/tmp/b.env'], { QG_ENV_FILE: '/tmp/a.env' }, fs).file).toBe('/tmp/b.env');
    expect(chooseEnvFile(['status', '--no-env-file'], { QG_ENV_FILE: '/tmp/a.env' }, fs).file).toBeUndefined();
    expect(() => chooseEnvFile(['status'], { QG_ENV_FILE: '/nonexistent.env' }, fs)).toThrow(/no such file: \/nonexistent\.env/);
  });

  it('refuses a default file it cannot read instead of quietly using 127.0.0.1:6379', () => {
    const fs = fsWith({ '/etc/quantum/quantum-gates.env': Object.assign(new Error('EACCES'), { code: 'EACCES' }) });

    expect(() => chooseEnvFile(['kill', 'on'], {}, fs)).toThrow(UsageError);
    expect(() => chooseEnvFile(['kill', 'on'], {}, fs)).toThrow(/cannot read \/etc\/quantum\/quantum-gates\.env \(EACCES\)/);
    expect(() => chooseEnvFile(['--env-file'], {}, fs)).toThrow(/--env-file needs a path/);
  });

  it('says "no such file" for an --env-file path that does not exist, without the advice meant for EACCES', () => {
    const call = () => chooseEnvFile(['kill', 'on', '--env-file', '/nonexistent/gates.env'], {}, fsWith({}));
    expect(call).toThrow(UsageError);
    expect(call).toThrow(
      "no such file: /nonexistent/gates.env (--env-file or QG_ENV_FILE): give the path of an env file, or --no-env-file to use only the shell's variables",
    );
  });
});

describe('did you mean', () => {
  it('suggests the closest command within a third of its length, and nothing for a wild guess', () => {
    expect(didYouMean('kil', ['kill', 'disarm', 'dlq'])).toBe(' (did you mean "kill"?)');
    expect(didYouMean('dql', ['kill', 'disarm', 'dlq'])).toBe(' (did you mean "dlq"?)');
    expect(didYouMean('claer', ['clear', 'status'], 'disarm ')).toBe(' (did you mean "disarm clear"?)');
    expect(didYouMean('deploy', ['kill', 'disarm', 'dlq', 'status'])).toBe('');
  });

  it('never names one side of a switch alone: "kill of" gets on and off, in the order they are known', () => {
    const sides = [['on', 'off']];
    expect(didYouMean('of', ['on', 'off', 'status'], 'kill ', sides)).toBe(' (did you mean "kill on" or "kill off"?)');
    expect(didYouMean('onn', ['on', 'off', 'status'], 'kill ', sides)).toBe(' (did you mean "kill on" or "kill off"?)');
    expect(didYouMean('offf', ['on', 'off', 'status'], 'kill ', sides)).toBe(' (did you mean "kill on" or "kill off"?)');
    expect(didYouMean('statsu', ['on', 'off', 'status'], 'kill ', sides)).toBe(' (did you mean "kill status"?)');
  });

  it('names every word equally close instead of picking one', () => {
    expect(didYouMean('PARTIAL_5', ['PARTIAL_25', 'PARTIAL_50', 'PARTIAL_75'])).toBe(
      ' (did you mean "PARTIAL_25", "PARTIAL_50" or "PARTIAL_75"?)',
    );
  });
});

describe('QG_ENV_DIR', () => {
  it("looks for the units' env files in $QG_ENV_DIR instead of /etc/quantum", () => {
    const fs = fsWith({ '/srv/qg/gates-common.env': 'REDIS_URL=redis://r:1/0\n', '/etc/quantum/quantum-gates.env': 'X=1\n' });
    expect(chooseEnvFile(['status'], { QG_ENV_DIR: '/srv/qg' }, fs).file).toBe('/srv/qg/gates-common.env');
  });
});
