import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseDashboardAuth } from '../../app/http/auth.js';
import { settingsRead } from '../../app/settings.js';
import { CREDENTIALS, settingsDigest, tapedSettings, withoutCredentials } from '../../app/tape/settings.js';
import { allHandlers } from '../../handlers/index.js';
import { parseRuntimeConfig } from '../../runtime/host/index.js';
import { envNumber, parseEnv, type Env } from '../../schemas/env.js';

/** A gate's settings parser as the gates write theirs (parseEnv over a zod object of env names). */
const schema = z.object({
  HEAT_MIN: envNumber(0.25),
  HEAT_GATE_METRICS_URL: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  POSITION_P33_UNIVERSE_KEYS: z.string().optional(),
});
const parse = (env: Env) => parseEnv(schema, env);

describe('the settings a gate tapes', () => {
  const env = {
    HEAT_MIN: '0.2',
    HEAT_GATE_METRICS_URL: 'http://scraper:s3cret@10.0.0.5:8056/metrics',
    REDIS_PASSWORD: 'abc',
    POSITION_P33_UNIVERSE_KEYS: 'quantum:universe',
    HOME: '/root',
  };
  const taped = tapedSettings(parse, parse(env), env);

  it('are the variables its parser read, as set: not the rest of the environment, not a default it took', () => {
    expect(Object.keys(taped.env)).toEqual(['HEAT_GATE_METRICS_URL', 'HEAT_MIN', 'POSITION_P33_UNIVERSE_KEYS']);
    expect(tapedSettings(parse, parse({}), {}).env).toEqual({});
  });

  it('leave secrets out by what they are: the credentials, and those of a URL; a setting with KEY in its name that names keys is taped', () => {
    expect(taped.env).not.toHaveProperty('REDIS_PASSWORD');
    expect(taped.env.POSITION_P33_UNIVERSE_KEYS).toBe('quantum:universe');
    expect(taped.env.HEAT_GATE_METRICS_URL).toBe('http://10.0.0.5:8056/metrics');
    expect(JSON.stringify(taped)).not.toContain('s3cret');
    expect(JSON.stringify(taped)).not.toContain('abc');
    expect(taped.config).toEqual({
      HEAT_MIN: 0.2,
      HEAT_GATE_METRICS_URL: 'http://10.0.0.5:8056/metrics',
      POSITION_P33_UNIVERSE_KEYS: 'quantum:universe',
    });
  });

  it('are named by a digest that changes with them alone', () => {
    expect(settingsDigest(taped)).toBe(settingsDigest(tapedSettings(parse, parse(env), { ...env, HOME: '/home/ops' })));
    expect(settingsDigest(taped)).not.toBe(
      settingsDigest(tapedSettings(parse, parse({ ...env, HEAT_MIN: '0.3' }), { ...env, HEAT_MIN: '0.3' })),
    );
    expect(withoutCredentials('redis://default:pw@10.0.0.5:6379/2')).toBe('redis://10.0.0.5:6379/2');
  });

  it("name every credential the gates' settings parsers read: a new PASSWORD, TOKEN or SECRET setting must be added to CREDENTIALS", () => {
    const parsers: ((env: Env) => unknown)[] = [
      ...allHandlers.map((h) => (env: Env) => h.config(env)),
      parseRuntimeConfig,
      (env: Env) => parseDashboardAuth(env, '127.0.0.1'),
    ];
    const read = new Set(parsers.flatMap((parse) => [...settingsRead(parse, {})]));
    const credentialLike = [...read].filter((name) => /PASSWORD|TOKEN|SECRET/.test(name));
    expect(credentialLike.length).toBeGreaterThan(0);
    expect(credentialLike.filter((name) => !CREDENTIALS.has(name))).toEqual([]);
    expect(read).toContain('POSITION_P33_UNIVERSE_KEYS');
  });
});
