import { describe, expect, it } from 'vitest';
import {
  credentialsOf,
  decideAccess,
  disabledMessage,
  isLoopbackHost,
  parseDashboardAuth,
  relayedByProxy,
  roleOf,
  statusPageLine,
  type AccessRequest,
  type DashboardAuth,
} from '../../app/http/auth.js';
import { ConfigError } from '../../schemas/env.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const request = (overrides: Partial<AccessRequest> = {}): AccessRequest => ({
  method: 'GET',
  authorization: undefined,
  remoteAddress: '10.1.2.3',
  origin: undefined,
  host: 'gates.internal:8080',
  secFetchSite: undefined,
  forwarded: false,
  ...overrides,
});

const TOKEN = 'tok-0123456789abcdef';
const withBasic: DashboardAuth = {
  basic: { user: 'ops', password: 'correct horse' },
  token: undefined,
  viewer: undefined,
  loopbackStatus: false,
};
const withToken: DashboardAuth = { basic: undefined, token: TOKEN, viewer: undefined, loopbackStatus: false };
const withBoth: DashboardAuth = { basic: withBasic.basic, token: TOKEN, viewer: undefined, loopbackStatus: false };
const none: DashboardAuth = { basic: undefined, token: undefined, viewer: undefined, loopbackStatus: false };
const loopbackOnly: DashboardAuth = { basic: undefined, token: undefined, viewer: undefined, loopbackStatus: true };
const VIEWER = { user: 'watch', password: 'look but do not touch' };
const withViewer: DashboardAuth = { basic: withBasic.basic, token: TOKEN, viewer: VIEWER, loopbackStatus: false };
const viewerOnly: DashboardAuth = { basic: undefined, token: undefined, viewer: VIEWER, loopbackStatus: false };

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseDashboardAuth', () => {
  it('reads user and password, token and the loopback switch', () => {
    const auth = parseDashboardAuth(
      { DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'correct horse', DASHBOARD_TOKEN: TOKEN, DASHBOARD_ALLOW_LOOPBACK: '1' },
      '127.0.0.1',
    );
    expect(auth).toEqual({ basic: { user: 'ops', password: 'correct horse' }, token: TOKEN, viewer: undefined, loopbackStatus: true });
  });

  it('reads the read-only viewer credential; configured, it switches the loopback default off like any credential', () => {
    const auth = parseDashboardAuth({ DASHBOARD_VIEWER_USER: VIEWER.user, DASHBOARD_VIEWER_PASSWORD: VIEWER.password }, '127.0.0.1');
    expect(auth).toEqual(viewerOnly);
  });

  it('treats empty variables (FOO= in an env file) as unset: everything disabled', () => {
    expect(parseDashboardAuth({ DASHBOARD_USER: '', DASHBOARD_PASSWORD: ' ', DASHBOARD_TOKEN: '' }, '0.0.0.0')).toEqual(none);
  });

  it.each([
    [{ DASHBOARD_USER: 'ops' }, 'DASHBOARD_PASSWORD: must be set when DASHBOARD_USER is set'],
    [{ DASHBOARD_PASSWORD: 'correct horse' }, 'DASHBOARD_USER: must be set when DASHBOARD_PASSWORD is set'],
    [{ DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'short' }, 'DASHBOARD_PASSWORD: must be at least 8 characters'],
    [{ DASHBOARD_USER: 'o:ps', DASHBOARD_PASSWORD: 'correct horse' }, 'DASHBOARD_USER: must not contain ":"'],
    [{ DASHBOARD_TOKEN: 'abc' }, 'DASHBOARD_TOKEN: must be at least 16 characters'],
    [{ DASHBOARD_ALLOW_LOOPBACK: 'maybe' }, 'DASHBOARD_ALLOW_LOOPBACK: must be exactly one of "1", "0", "true", "false"'],
    [{ DASHBOARD_VIEWER_USER: 'watch' }, 'DASHBOARD_VIEWER_PASSWORD: must be set when DASHBOARD_VIEWER_USER is set'],
    [{ DASHBOARD_VIEWER_PASSWORD: 'look but do not touch' }, 'DASHBOARD_VIEWER_USER: must be set when DASHBOARD_VIEWER_PASSWORD is set'],
    [{ DASHBOARD_VIEWER_USER: 'watch', DASHBOARD_VIEWER_PASSWORD: 'short' }, 'DASHBOARD_VIEWER_PASSWORD: must be at least 8 characters'],
    [
      { DASHBOARD_VIEWER_USER: 'wa:tch', DASHBOARD_VIEWER_PASSWORD: 'look but do not touch' },
      'DASHBOARD_VIEWER_USER: must not contain ":"',
    ],
    [
      {
        DASHBOARD_USER: 'ops',
        DASHBOARD_PASSWORD: 'correct horse',
        DASHBOARD_VIEWER_USER: 'ops',
        DASHBOARD_VIEWER_PASSWORD: 'look but do not touch',
      },
      'DASHBOARD_VIEWER_USER: must differ from DASHBOARD_USER',
    ],
    [
      {
        DASHBOARD_USER: 'ops',
        DASHBOARD_PASSWORD: 'correct horse',
        DASHBOARD_VIEWER_USER: 'watch',
        DASHBOARD_VIEWER_PASSWORD: 'correct horse',
      },
      'DASHBOARD_VIEWER_PASSWORD: must differ from DASHBOARD_PASSWORD and DASHBOARD_TOKEN',
    ],
    [
      { DASHBOARD_TOKEN: TOKEN, DASHBOARD_VIEWER_USER: 'watch', DASHBOARD_VIEWER_PASSWORD: TOKEN },
      'DASHBOARD_VIEWER_PASSWORD: must differ from DASHBOARD_PASSWORD and DASHBOARD_TOKEN',
    ],
  ])('rejects %j with one line naming the variable', (env, line) => {
    const problems = problemsOf(() => parseDashboardAuth(env, '127.0.0.1'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(line);
  });

  it('never echoes a rejected password back into the error', () => {
    const [problem] = problemsOf(() => parseDashboardAuth({ DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 's3cret' }, '127.0.0.1'));
    expect(problem).toContain('DASHBOARD_PASSWORD');
    expect(problem).not.toContain('s3cret');
    expect(problem).toContain('(value hidden)');
  });

  it('reports a bad variable and an unsafe HOST together', () => {
    const problems = problemsOf(() => parseDashboardAuth({ DASHBOARD_ALLOW_LOOPBACK: 'yes', DASHBOARD_USER: 'ops' }, '0.0.0.0'));
    expect(problems).toEqual([
      expect.stringMatching(/^DASHBOARD_PASSWORD: /),
      expect.stringMatching(/^DASHBOARD_ALLOW_LOOPBACK: .*HOST=0\.0\.0\.0/),
    ]);
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', 'gates.internal'])(
    'refuses unauthenticated access on the non-loopback HOST %s, naming the variables',
    (host) => {
      const problems = problemsOf(() => parseDashboardAuth({ DASHBOARD_ALLOW_LOOPBACK: '1' }, host));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^DASHBOARD_ALLOW_LOOPBACK: .*HOST=.* DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN/);
    },
  );
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['localhost.example.com', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('credentialsOf', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    [basic('ops', 'pa:ss'), { kind: 'basic', user: 'ops', password: 'pa:ss' }],
    [`basic ${Buffer.from('ops:x').toString('base64')}`, { kind: 'basic', user: 'ops', password: 'x' }],
    [`Bearer ${TOKEN}`, { kind: 'bearer', token: TOKEN }],
    [`Basic ${Buffer.from('no-colon').toString('base64')}`, { kind: 'malformed' }],
    ['Digest abc', { kind: 'malformed' }],
    ['Bearer', { kind: 'malformed' }],
  ])('%s', (header, expected) => {
    expect(credentialsOf(header)).toEqual(expected);
  });
});

describe('decideAccess', () => {
  it.each([
    ['no credentials configured: the dashboard is disabled', none, 'dashboard', request({ authorization: basic('ops', 'x') }), 'disabled'],
    ['no credentials configured: the status page is disabled', none, 'status', request(), 'disabled'],
    ['no Authorization header: asked to authenticate', withBasic, 'dashboard', request(), 'unauthorized'],
    ['right user and password: allowed', withBasic, 'dashboard', request({ authorization: basic('ops', 'correct horse') }), 'allow'],
    ['wrong password: refused', withBasic, 'dashboard', request({ authorization: basic('ops', 'correct horsf') }), 'unauthorized'],
    ['wrong user: refused', withBasic, 'dashboard', request({ authorization: basic('root', 'correct horse') }), 'unauthorized'],
    [
      'a bearer token when only Basic is configured: refused',
      withBasic,
      'dashboard',
      request({ authorization: `Bearer ${TOKEN}` }),
      'unauthorized',
    ],
    ['the right bearer token: allowed', withToken, 'dashboard', request({ authorization: `Bearer ${TOKEN}` }), 'allow'],
    ['a wrong bearer token: refused', withToken, 'status', request({ authorization: `Bearer ${TOKEN}x` }), 'unauthorized'],
    [
      'the token as Basic password, any user (for browsers): allowed',
      withToken,
      'status',
      request({ authorization: basic('anyone', TOKEN) }),
      'allow',
    ],
    [
      'either configured credential works when both are set',
      withBoth,
      'dashboard',
      request({ authorization: basic('ops', 'correct horse') }),
      'allow',
    ],
    ['a malformed header: refused', withBasic, 'dashboard', request({ authorization: 'Basic !!!' }), 'unauthorized'],
    ['loopback mode, local client: the status page is open', loopbackOnly, 'status', request({ remoteAddress: '127.0.0.1' }), 'allow'],
    ['loopback mode: the dashboard stays disabled', loopbackOnly, 'dashboard', request({ remoteAddress: '127.0.0.1' }), 'disabled'],
    ['loopback mode, remote client: forbidden', loopbackOnly, 'status', request({ remoteAddress: '10.0.0.9' }), 'forbidden'],
    [
      'loopback mode, request relayed by a local proxy: forbidden',
      loopbackOnly,
      'status',
      request({ remoteAddress: '127.0.0.1', forwarded: true }),
      'forbidden',
    ],
    [
      'loopback mode with credentials, remote client: asked to authenticate',
      { ...withBasic, loopbackStatus: true },
      'status',
      request(),
      'unauthorized',
    ],
    [
      'a cross-site POST with valid credentials: forbidden (CSRF)',
      withBasic,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', 'correct horse'), origin: 'https://evil.example' }),
      'forbidden',
    ],
    [
      'a same-origin PUT with valid credentials: allowed',
      withBasic,
      'dashboard',
      request({
        method: 'PUT',
        authorization: basic('ops', 'correct horse'),
        origin: 'http://gates.internal:8080',
        secFetchSite: 'same-origin',
      }),
      'allow',
    ],
    [
      'a same-origin PUT whose Host names the default port: allowed',
      withBasic,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', 'correct horse'), origin: 'http://gates.internal', host: 'gates.internal:80' }),
      'allow',
    ],
    [
      'a PUT from another port of the same host: forbidden',
      withBasic,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', 'correct horse'), origin: 'http://gates.internal:9999' }),
      'forbidden',
    ],
    [
      'a PUT the browser marks cross-site: forbidden',
      withBasic,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', 'correct horse'), secFetchSite: 'cross-site' }),
      'forbidden',
    ],
    [
      'a script PUT without Origin (curl) with credentials: allowed',
      withToken,
      'dashboard',
      request({ method: 'PUT', authorization: `Bearer ${TOKEN}` }),
      'allow',
    ],
    [
      'a cross-site GET with credentials: allowed (reads change nothing)',
      withBasic,
      'dashboard',
      request({ authorization: basic('ops', 'correct horse'), secFetchSite: 'cross-site' }),
      'allow',
    ],
    ['the viewer reads the dashboard', withViewer, 'dashboard', request({ authorization: basic(VIEWER.user, VIEWER.password) }), 'allow'],
    ['the viewer reads the status page', withViewer, 'status', request({ authorization: basic(VIEWER.user, VIEWER.password) }), 'allow'],
    [
      'the viewer alone enables the dashboard, read-only',
      viewerOnly,
      'dashboard',
      request({ authorization: basic(VIEWER.user, VIEWER.password) }),
      'allow',
    ],
    [
      'the viewer may not retry a job (PUT): forbidden',
      withViewer,
      'dashboard',
      request({ method: 'PUT', authorization: basic(VIEWER.user, VIEWER.password) }),
      'forbidden',
    ],
    [
      'the viewer may not POST: forbidden',
      viewerOnly,
      'dashboard',
      request({ method: 'POST', authorization: basic(VIEWER.user, VIEWER.password) }),
      'forbidden',
    ],
    [
      'the viewer may not DELETE: forbidden',
      withViewer,
      'dashboard',
      request({ method: 'DELETE', authorization: basic(VIEWER.user, VIEWER.password) }),
      'forbidden',
    ],
    [
      "the viewer's user with a wrong password: refused",
      withViewer,
      'dashboard',
      request({ authorization: basic(VIEWER.user, 'look but do not touc') }),
      'unauthorized',
    ],
    [
      "the viewer's password under the operator's user: refused",
      withViewer,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', VIEWER.password) }),
      'unauthorized',
    ],
    [
      'the operator still writes when a viewer is configured',
      withViewer,
      'dashboard',
      request({ method: 'PUT', authorization: basic('ops', 'correct horse') }),
      'allow',
    ],
  ] as const)('%s', (_name, auth, surface, req, kind) => {
    expect(decideAccess(auth, surface, req).kind).toBe(kind);
  });

  it.each([
    ['operator user and password', basic('ops', 'correct horse'), 'basic'],
    ['token as Bearer', `Bearer ${TOKEN}`, 'token'],
    ['token as Basic password', basic('anyone', TOKEN), 'token'],
    ['viewer user and password', basic(VIEWER.user, VIEWER.password), 'viewer'],
    ['viewer user, operator password', basic(VIEWER.user, 'correct horse'), undefined],
    ['nothing', undefined, undefined],
  ] as const)('roleOf: %s → %s', (_name, authorization, role) => {
    expect(roleOf(withViewer, authorization)).toBe(role);
  });

  it('says why a viewer write is refused', () => {
    const decision = decideAccess(withViewer, 'dashboard', request({ method: 'PUT', authorization: basic(VIEWER.user, VIEWER.password) }));
    expect(decision).toEqual({ kind: 'forbidden', message: expect.stringContaining('read-only') });
  });

  it.each([
    ['dashboard', /DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN/],
    ['status', /DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN.*DASHBOARD_ALLOW_LOOPBACK=1/],
  ] as const)('the disabled %s says which variables enable it', (surface, pattern) => {
    expect(disabledMessage(surface)).toMatch(pattern);
  });
});

describe('the start-up banner says who may open the status page', () => {
  const at = 'http://127.0.0.1:8080';
  it.each([
    [
      { DASHBOARD_TOKEN: TOKEN },
      'status page http://127.0.0.1:8080/ (with the dashboard credentials), BullMQ dashboard http://127.0.0.1:8080/admin/queues',
    ],
    [
      { DASHBOARD_TOKEN: TOKEN, DASHBOARD_ALLOW_LOOPBACK: '1' },
      'status page http://127.0.0.1:8080/ (with the dashboard credentials; read-only without them to clients on this machine not relayed by a proxy), BullMQ dashboard http://127.0.0.1:8080/admin/queues',
    ],
    [{}, 'status page http://127.0.0.1:8080/ (read-only, open to this machine only)'],
  ])('%j', (env, line) => {
    expect(statusPageLine(env, '127.0.0.1', at)).toBe(line);
  });
});

describe('a request relayed by a proxy', () => {
  it.each([
    'Forwarded',
    'X-Forwarded-For',
    'x-forwarded-host',
    'X-Forwarded-Proto',
    'X-Real-IP',
    'Via',
    'True-Client-IP',
    'CF-Connecting-IP',
  ])('is told by %s', (name) => {
    expect(relayedByProxy({ host: 'x', [name]: '1' })).toBe(true);
  });

  it('is not told by the headers a browser sends itself', () => {
    expect(relayedByProxy({ host: 'x', 'user-agent': 'curl', accept: '*/*', origin: 'http://x', 'sec-fetch-site': 'same-origin' })).toBe(
      false,
    );
  });
});
