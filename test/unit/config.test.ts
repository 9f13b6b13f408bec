import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allHandlers, companionsLeftOut } from '../../handlers/index.js';
import { ConfigError } from '../../schemas/env.js';
import { checkConfiguration } from '../../app/settings.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    checkConfiguration(env, allHandlers);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('starts with no variables at all, using the seeds’ defaults', () => {
    const { config, hosted } = checkConfiguration({}, allHandlers);
    expect(config).toMatchObject({ HOST: '127.0.0.1', PORT: 8080, DLQ_STREAM: 'quantum:stream:dlq', REDIS_PORT: 6379 });
    expect(hosted.map((h) => h.handler.name)).toEqual(allHandlers.map((h) => h.name));
    expect(hosted.find((h) => h.handler.name === 'heat-gate')?.config).toMatchObject({
      P26_MODE: 'shadow',
      HEAT_MIN: 0.25,
      HEAT_MAX: 0.65,
    });
  });

  it('reports every bad variable at once, one line each, naming it', () => {
    const problems = problemsOf({ PORT: 'eighty', REDIS_URL: 'localhost:6379', BATCH_SIZE: '0', P26_MODE: 'yes', HEAT_MIN: 'low' });
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'REDIS_URL', 'BATCH_SIZE', 'P26_MODE', 'HEAT_MIN']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
  });

  it('never echoes credentials a URL setting carries, and names a bad percent-escape in REDIS_URL', () => {
    const problems = problemsOf({ HEAT_GATE_METRICS_URL: 'http://u:s3cr3t@host:1/metrics x' });
    expect(problems).toEqual([expect.stringMatching(/^HEAT_GATE_METRICS_URL: .*\(got "http:\/\/\*\*\*@host:1\/metrics x"\)$/)]);
    expect(problems.join('\n')).not.toContain('s3cr3t');
    const redis = problemsOf({ REDIS_URL: 'redis://:pa%zzss@127.0.0.1:6379/0' });
    expect(redis).toEqual([expect.stringMatching(/^REDIS_URL: has a malformed percent-escape/)]);
    expect(redis.join('\n')).not.toContain('pa%zz');
  });

  it('refuses a variable one slip away from a setting, naming the setting, and lists other unknown ones as ignored', () => {
    expect(problemsOf({ GOV_MAX_OPEN_POSITION: '5', P26_MODEE: 'enforce' })).toEqual([
      'GOV_MAX_OPEN_POSITION: is not a setting of quantum-gates (did you mean "GOV_MAX_OPEN_POSITIONS"?)',
      'P26_MODEE: is not a setting of quantum-gates (did you mean "P26_MODE"?)',
    ]);
    const { ignoredSettings } = checkConfiguration(
      { REDIS_EXPORTER_PORT: '9121', PATH: '/usr/bin', GOV_MAX_OPEN_POSITIONS: '5' },
      allHandlers,
    );
    expect(ignoredSettings).toEqual(['REDIS_EXPORTER_PORT']);
  });

  it('compares names as the eye reads them (any case, no underscores): a lower-case or run-together setting stops the start naming it', () => {
    expect(problemsOf({ gov_max_total_notional_usdt: '500', GOVMAX_OPEN_POSITIONS: '2', p26mode: 'enforce' })).toEqual([
      'GOVMAX_OPEN_POSITIONS: is not a setting of quantum-gates (did you mean "GOV_MAX_OPEN_POSITIONS"?)',
      'gov_max_total_notional_usdt: is not a setting of quantum-gates (did you mean "GOV_MAX_TOTAL_NOTIONAL_USDT"?)',
      'p26mode: is not a setting of quantum-gates (did you mean "P26_MODE"?)',
    ]);
    // Names of other programs beside them are still only listed.
    expect(checkConfiguration({ http_proxy: 'http://proxy:3128', path: '/usr/bin' }, allHandlers).ignoredSettings).toEqual([]);
  });

  it('picks a subset with HANDLERS and refuses unknown names', () => {
    expect(checkConfiguration({ HANDLERS: 'heat-gate' }, allHandlers).hosted.map((h) => h.handler.name)).toEqual(['heat-gate']);
    expect(problemsOf({ HANDLERS: 'heat-gate,nope' })).toEqual([expect.stringMatching(/^HANDLERS: unknown handler\(s\) nope/)]);
  });

  it('HANDLERS=all,-name hosts every gate but those named, and a slip in a name gets a did-you-mean', () => {
    const hosted = checkConfiguration({ HANDLERS: 'all,-risk-budget' }, allHandlers).hosted.map((h) => h.handler.name);
    expect(hosted).toEqual(allHandlers.map((h) => h.name).filter((name) => name !== 'risk-budget'));
    expect(problemsOf({ HANDLERS: 'heat-gate,governer' })).toEqual([
      expect.stringMatching(/^HANDLERS: unknown handler\(s\) governer \(did you mean "governor"\?\); known: /),
    ]);
    expect(problemsOf({ HANDLERS: 'all,-risk-budgte' })).toEqual([
      expect.stringMatching(/^HANDLERS: unknown handler\(s\) -risk-budgte \(did you mean "-risk-budget"\?\)/),
    ]);
  });

  it('a slip in a choice value gets a did-you-mean, as a slip in a name does; a switch only for case', () => {
    expect(problemsOf({ P26_MODE: 'enfroce' })).toEqual([
      'P26_MODE: must be exactly one of "shadow", "enforce" (did you mean "enforce"?) (got "enfroce")',
    ]);
    expect(problemsOf({ REDIS_PRIVATE: 'of' })).toEqual([expect.not.stringContaining('did you mean')]);
  });

  it("README's What runs table names every gate HANDLERS can select", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## What runs'), readme.indexOf('\n\n', readme.indexOf('| gate |')));
    expect(allHandlers.map((h) => h.name).filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('names the companions a HANDLERS list hosting the governor or an outcome follow-up leaves out', () => {
    expect(companionsLeftOut(['governor', 'governor-cooldown']).map((c) => [c.gate, c.missing])).toEqual([
      ['governor', ['governor-switches', 'governor-exit-locks', 'governor-reservation-results']],
    ]);
    // An env file of before 1.11.0 (deploy/env/gates-outcomes.env): its samples would never be taken.
    expect(companionsLeftOut(['outcome-heat', 'outcome-governor', 'outcome-sample']).map((c) => [c.gate, c.missing])).toEqual([
      ['outcome-heat', ['outcome-sweep']],
      ['outcome-governor', ['outcome-sweep']],
    ]);
    expect(companionsLeftOut(allHandlers.map((h) => h.name))).toEqual([]);
    expect(companionsLeftOut(['heat-gate'])).toEqual([]);
  });

  it('APPLY_MODE takes exactly testnet, production or dry_run: any other value stops the start, with every value listed', () => {
    const hosted = (env: Record<string, string>) =>
      checkConfiguration({ HANDLERS: 'governor', ...env }, allHandlers).hosted[0]!.config as { APPLY_MODE: string };
    expect(hosted({}).APPLY_MODE).toBe('testnet');
    for (const mode of ['testnet', 'production', 'dry_run']) expect(hosted({ APPLY_MODE: mode }).APPLY_MODE).toBe(mode);
    const values = 'must be exactly one of "testnet", "production", "dry_run"';
    // The original took each of these as production, which has no fund caps.
    expect(problemsOf({ APPLY_MODE: 'TESTNET' })).toEqual([`APPLY_MODE: ${values} (did you mean "testnet"?) (got "TESTNET")`]);
    expect(problemsOf({ APPLY_MODE: 'testnet ' })).toEqual([`APPLY_MODE: ${values} (did you mean "testnet"?) (got "testnet ")`]);
    expect(problemsOf({ APPLY_MODE: 'Dry-Run' })).toEqual([`APPLY_MODE: ${values} (did you mean "dry_run"?) (got "Dry-Run")`]);
    expect(problemsOf({ APPLY_MODE: 'live' })).toEqual([`APPLY_MODE: ${values} (got "live")`]);
    expect(problemsOf({ APPLY_MODE: 'prod' })).toEqual([`APPLY_MODE: ${values} (got "prod")`]);
  });

  it('every other choice is exact too, named with all its values, even for a gate hosted elsewhere', () => {
    expect(problemsOf({ HANDLERS: 'governor', P28_MODE: 'Enforce' })).toEqual([
      'P28_MODE: must be exactly one of "shadow", "enforce" (did you mean "enforce"?) (got "Enforce")',
    ]);
    expect(problemsOf({ P26_MODE: ' shadow' })).toEqual([
      'P26_MODE: must be exactly one of "shadow", "enforce" (did you mean "shadow"?) (got " shadow")',
    ]);
    expect(problemsOf({ LOG_LEVEL: 'INFO', LOG_FORMAT: 'text', P26_APPLY_LAYER_ERA: 'Newest' })).toEqual([
      'LOG_LEVEL: must be exactly one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (did you mean "info"?) (got "INFO")',
      'LOG_FORMAT: must be exactly one of "auto", "json", "pretty" (got "text")',
      expect.stringMatching(/^P26_APPLY_LAYER_ERA: must be exactly one of "[^(]*\(did you mean "newest"\?\) \(got "Newest"\)$/),
    ]);
    // A switch never gets a guess by spelling: "of" is as near "on" as "off".
    const bools = '"1", "0", "true", "false", "yes", "no", "on", "off", "TRUE", "FALSE", "True", "False"';
    expect(problemsOf({ GOV_TOTAL_NOTIONAL_COUNTS_TRADE: 'of', P28_TEST_MODE: 'Yes' })).toEqual([
      `GOV_TOTAL_NOTIONAL_COUNTS_TRADE: must be exactly one of ${bools} (got "of")`,
      `P28_TEST_MODE: must be exactly one of ${bools} (did you mean "yes"?) (got "Yes")`,
    ]);
    // Shared by three gates' settings: said once.
    expect(problemsOf({ GOV_ENABLE_AUTO_DISARM: 'maybe' })).toHaveLength(1);
  });

  it('treats an empty variable as unset', () => {
    expect(checkConfiguration({ PORT: '', P26_MODE: '' }, allHandlers).config.PORT).toBe(8080);
  });
});
