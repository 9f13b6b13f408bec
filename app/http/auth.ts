import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import * as z from 'zod';
import { ConfigError, envBool, parseEnv } from '../../schemas/env.js';
import { disabledPage, wantsHtml } from './disabled-page.js';

const basicUser = z
  .string()
  .max(200, 'must be at most 200 characters')
  .refine((u) => !u.includes(':'), 'must not contain ":" (HTTP Basic splits user and password there)')
  .optional();
// A dashboard that can remove jobs in a trading pipeline deserves more than a PIN.
const basicPassword = z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters').optional();

/**
 * Who may see the operator pages. The BullMQ dashboard can retry and remove jobs, so it is only
 * ever served to a caller with credentials. The status page is read-only; a loopback-bound process
 * with no credentials configured serves it to loopback clients (DASHBOARD_ALLOW_LOOPBACK decides
 * explicitly either way). A viewer credential, if configured, sees both and changes nothing.
 */
export const dashboardAuthEnvSchema = z
  .object({
    DASHBOARD_USER: basicUser,
    DASHBOARD_PASSWORD: basicPassword,
    DASHBOARD_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters')
      .max(1024, 'must be at most 1024 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
    // A second, read-only credential: sees the board (bull-board's readOnlyMode) and the status
    // page; every write it sends is refused.
    DASHBOARD_VIEWER_USER: basicUser,
    DASHBOARD_VIEWER_PASSWORD: basicPassword,
    DASHBOARD_ALLOW_LOOPBACK: envBool(false),
  })
  .superRefine((env, ctx) => {
    const pair = (user: 'DASHBOARD_USER' | 'DASHBOARD_VIEWER_USER', password: 'DASHBOARD_PASSWORD' | 'DASHBOARD_VIEWER_PASSWORD') => {
      if (env[user] !== undefined && env[password] === undefined)
        ctx.addIssue({ code: 'custom', path: [password], message: `must be set when ${user} is set` });
      if (env[password] !== undefined && env[user] === undefined)
        ctx.addIssue({ code: 'custom', path: [user], message: `must be set when ${password} is set` });
    };
    pair('DASHBOARD_USER', 'DASHBOARD_PASSWORD');
    pair('DASHBOARD_VIEWER_USER', 'DASHBOARD_VIEWER_PASSWORD');
    // The audit names the user; one name for both roles would make "who retried this" ambiguous.
    if (env.DASHBOARD_VIEWER_USER !== undefined && env.DASHBOARD_VIEWER_USER === env.DASHBOARD_USER) {
      ctx.addIssue({
        code: 'custom',
        path: ['DASHBOARD_VIEWER_USER'],
        message: 'must differ from DASHBOARD_USER (the viewer is a separate, read-only account)',
      });
    }
    // Whoever holds the viewer's password must not thereby hold an operator's secret: the token
    // is accepted as a Basic password under any user name, so it would make the viewer an operator.
    if (
      env.DASHBOARD_VIEWER_PASSWORD !== undefined &&
      (env.DASHBOARD_VIEWER_PASSWORD === env.DASHBOARD_PASSWORD || env.DASHBOARD_VIEWER_PASSWORD === env.DASHBOARD_TOKEN)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['DASHBOARD_VIEWER_PASSWORD'],
        message: 'must differ from DASHBOARD_PASSWORD and DASHBOARD_TOKEN (it would grant write access)',
      });
    }
  });

export interface DashboardAuth {
  /** HTTP Basic user and password, when both are configured. */
  readonly basic: { readonly user: string; readonly password: string } | undefined;
  /** Bearer token; a browser may also send it as the Basic password (any user name). */
  readonly token: string | undefined;
  /** HTTP Basic user and password of the read-only viewer, when both are configured. */
  readonly viewer: { readonly user: string; readonly password: string } | undefined;
  /** The status page is open to loopback clients (HOST is loopback and the operator asked). */
  readonly loopbackStatus: boolean;
}

export type Surface = 'dashboard' | 'status';

const ENABLE_HINT = 'set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN';

/**
 * Parses the dashboard variables against the HOST the server binds. Refuses, naming the
 * variables, an unauthenticated page on a non-loopback HOST.
 */
export function parseDashboardAuth(env: Readonly<Record<string, string | undefined>>, host: string): DashboardAuth {
  const problems: string[] = [];
  let parsed: z.infer<typeof dashboardAuthEnvSchema> | undefined;
  try {
    parsed = parseEnv(dashboardAuthEnvSchema, env); // parseEnv hides the values of secret variables
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  // Judged from the raw value too, so one start-up reports this alongside any other mistake.
  const allowLoopback =
    parsed?.DASHBOARD_ALLOW_LOOPBACK ?? ['1', 'true', 'yes', 'on'].includes((env.DASHBOARD_ALLOW_LOOPBACK ?? '').trim().toLowerCase());
  if (allowLoopback && !isLoopbackHost(host)) {
    problems.push(
      `DASHBOARD_ALLOW_LOOPBACK: would serve the status page without authentication while HOST=${host} is not a loopback address; ` +
        `${ENABLE_HINT} instead, or bind HOST=127.0.0.1`,
    );
  }
  if (problems.length > 0 || parsed === undefined) throw new ConfigError(problems);
  const basic =
    parsed.DASHBOARD_USER !== undefined && parsed.DASHBOARD_PASSWORD !== undefined
      ? { user: parsed.DASHBOARD_USER, password: parsed.DASHBOARD_PASSWORD }
      : undefined;
  const viewer =
    parsed.DASHBOARD_VIEWER_USER !== undefined && parsed.DASHBOARD_VIEWER_PASSWORD !== undefined
      ? { user: parsed.DASHBOARD_VIEWER_USER, password: parsed.DASHBOARD_VIEWER_PASSWORD }
      : undefined;
  // Unset, the read-only status page is open to this machine when the server listens only on it
  // and no credentials are configured: the URL `npm start` prints then shows the product instead
  // of a 404. Configured credentials are meant to be asked for, so they switch that off.
  const loopbackChosen = (env.DASHBOARD_ALLOW_LOOPBACK ?? '').trim() !== '';
  const loopbackByDefault = isLoopbackHost(host) && basic === undefined && parsed.DASHBOARD_TOKEN === undefined && viewer === undefined;
  return {
    basic,
    token: parsed.DASHBOARD_TOKEN,
    viewer,
    loopbackStatus: loopbackChosen ? parsed.DASHBOARD_ALLOW_LOOPBACK : loopbackByDefault,
  };
}

export function hasCredentials(auth: DashboardAuth): boolean {
  return auth.basic !== undefined || auth.token !== undefined || auth.viewer !== undefined;
}

/** Whether a surface is served at all (it may still ask for credentials). */
export function isEnabled(auth: DashboardAuth, surface: Surface): boolean {
  return hasCredentials(auth) || (surface === 'status' && auth.loopbackStatus);
}

/** The one line an operator reads when a page is off, naming what turns it on. */
export function disabledMessage(surface: Surface): string {
  return surface === 'dashboard'
    ? `The BullMQ dashboard is disabled: ${ENABLE_HINT} to enable it.`
    : `The gates status page is disabled: ${ENABLE_HINT} to enable it (or DASHBOARD_ALLOW_LOOPBACK=1 with a loopback HOST for local, read-only access).`;
}

/** 127.0.0.0/8, ::1 and localhost; 0.0.0.0 and :: listen on every interface, so they are not. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Headers only a proxy adds: the standard Forwarded and Via, every X-Forwarded-* (nginx's
 * X-Forwarded-Host alone included), and the client-address headers proxies and CDNs set
 * (nginx's X-Real-IP). A proxy that adds none of them (nginx's proxy_pass by default) cannot be
 * told from a local client at all: docs/operations.md §2 says loopback trust then needs no proxy
 * on the host, or one that authenticates.
 */
const PROXY_HEADER =
  /^(forwarded|via|x-forwarded-.+|x-real-ip|x-client-ip|x-cluster-client-ip|true-client-ip|cf-connecting-ip|fastly-client-ip|x-original-forwarded-for)$/;

export function relayedByProxy(headers: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(headers).some((name) => PROXY_HEADER.test(name.toLowerCase()));
}

export interface AccessRequest {
  readonly method: string;
  readonly authorization: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly origin: string | undefined;
  readonly host: string | undefined;
  readonly secFetchSite: string | undefined;
  /** The request carries a header a proxy adds (relayedByProxy): a proxy relayed it. */
  readonly forwarded: boolean;
}

export type AccessDecision =
  | { readonly kind: 'allow'; readonly via: 'basic' | 'token' | 'loopback' | 'viewer' }
  | { readonly kind: 'disabled'; readonly message: string }
  | { readonly kind: 'unauthorized'; readonly message: string }
  | { readonly kind: 'forbidden'; readonly message: string };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Decides one request; pure, so every case is a one-line test. */
export function decideAccess(auth: DashboardAuth, surface: Surface, request: AccessRequest): AccessDecision {
  if (!isEnabled(auth, surface)) return { kind: 'disabled', message: disabledMessage(surface) };
  // Browsers resend Basic credentials on cross-site requests, so a hostile page could otherwise
  // make an operator's browser retry or remove jobs (CSRF). Reads stay harmless.
  if (!SAFE_METHODS.has(request.method.toUpperCase()) && isCrossSite(request)) {
    return { kind: 'forbidden', message: 'cross-site requests may not change anything here' };
  }
  const presented = credentialsOf(request.authorization);
  const role = roleOfPresented(auth, presented);
  if (role === 'viewer') {
    // Refused here, whatever the page shows: a read-only board hides its buttons, a script does not.
    if (!SAFE_METHODS.has(request.method.toUpperCase()))
      return { kind: 'forbidden', message: 'the viewer credential is read-only: it may not change anything' };
    return { kind: 'allow', via: 'viewer' };
  }
  if (role !== undefined) return { kind: 'allow', via: role };
  // A request relayed by a proxy on this host arrives from loopback too; it is not local.
  const local = request.remoteAddress !== undefined && isLoopbackHost(request.remoteAddress) && !request.forwarded;
  if (surface === 'status' && auth.loopbackStatus && local) {
    return { kind: 'allow', via: 'loopback' };
  }
  if (!hasCredentials(auth))
    return { kind: 'forbidden', message: 'only local clients (not through a proxy) may open the status page without credentials' };
  return {
    kind: 'unauthorized',
    message: presented.kind === 'none' ? 'authentication required' : 'invalid credentials',
  };
}

export type Role = 'basic' | 'token' | 'viewer';

/**
 * Which configured credential an Authorization header presents: the operator's user and
 * password, the token (Bearer, or as a Basic password), the read-only viewer, or none.
 */
export function roleOf(auth: DashboardAuth, authorization: string | undefined): Role | undefined {
  return roleOfPresented(auth, credentialsOf(authorization));
}

function roleOfPresented(auth: DashboardAuth, presented: Presented): Role | undefined {
  if (presented.kind === 'basic') {
    // Evaluate every comparison every time: which one failed must not show in the timing.
    const basicOk =
      auth.basic !== undefined && (safeEqual(presented.user, auth.basic.user) & safeEqual(presented.password, auth.basic.password)) === 1;
    const tokenOk = auth.token !== undefined && safeEqual(presented.password, auth.token) === 1;
    const viewerOk =
      auth.viewer !== undefined &&
      (safeEqual(presented.user, auth.viewer.user) & safeEqual(presented.password, auth.viewer.password)) === 1;
    if (basicOk) return 'basic';
    if (tokenOk) return 'token';
    if (viewerOk) return 'viewer';
  } else if (presented.kind === 'bearer') {
    if (auth.token !== undefined && safeEqual(presented.token, auth.token) === 1) return 'token';
  }
  return undefined;
}

type Presented =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'basic'; readonly user: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string };

export function credentialsOf(header: string | undefined): Presented {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match) return { kind: 'malformed' };
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  if (scheme === 'bearer') return { kind: 'bearer', token: value };
  if (scheme !== 'basic') return { kind: 'malformed' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'malformed' };
  return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Constant-time comparison. Hashing first gives both sides the same length, so neither the
 * secret's length nor the position of the first difference shows in the timing.
 */
function safeEqual(presented: string, expected: string): 1 | 0 {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) ? 1 : 0;
}

function isCrossSite(request: AccessRequest): boolean {
  if (request.secFetchSite !== undefined && request.secFetchSite !== 'same-origin' && request.secFetchSite !== 'none') return true;
  // No Origin: not a browser's cross-site request (scripts such as curl send none).
  if (request.origin === undefined) return false;
  if (request.origin === 'null') return true;
  try {
    const origin = new URL(request.origin);
    // Parse Host with the origin's scheme so an explicit default port (":80") compares equal.
    const host = new URL(`${origin.protocol}//${request.host ?? ''}`);
    return origin.host !== host.host;
  } catch {
    return true;
  }
}

const CHALLENGE = ['Basic realm="quantum-gates", charset="UTF-8"', 'Bearer realm="quantum-gates"'];

export interface RequireAccessOptions {
  readonly auth: DashboardAuth;
  readonly surface: Surface;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function guard(options: RequireAccessOptions, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const decision = decideAccess(options.auth, options.surface, {
    method: request.method,
    authorization: header(request, 'authorization'),
    remoteAddress: request.socket.remoteAddress,
    origin: header(request, 'origin'),
    host: header(request, 'host'),
    secFetchSite: header(request, 'sec-fetch-site'),
    forwarded: relayedByProxy(request.headers),
  });
  if (decision.kind === 'allow') return;
  reply.header('cache-control', 'no-store');
  switch (decision.kind) {
    case 'disabled':
      if (wantsHtml(header(request, 'accept'))) await reply.code(404).type('text/html; charset=utf-8').send(disabledPage(decision.message));
      else await reply.code(404).send({ error: 'disabled', message: decision.message });
      return;
    case 'forbidden':
      await reply.code(403).send({ error: 'forbidden', message: decision.message });
      return;
    case 'unauthorized':
      await reply.code(401).header('www-authenticate', CHALLENGE).send({ error: 'unauthorized', message: decision.message });
      return;
  }
}

/**
 * Guards every route of the scope it is registered in (fastify-plugin lifts the hook out of its
 * own encapsulation), including static assets under a wildcard route.
 */
const requireAccessPlugin: FastifyPluginAsync<RequireAccessOptions> = async (app, options) => {
  if (!options?.auth || (options.surface !== 'dashboard' && options.surface !== 'status')) {
    throw new Error('requireAccess needs { auth, surface: "dashboard" | "status" }');
  }
  app.addHook('onRequest', (request, reply) => guard(options, request, reply));
};

export const requireAccess = fp(requireAccessPlugin, { name: 'quantum-gates-require-access', fastify: '5.x' });

/** Where the status page is and who may open it, for the start-up banner: every way in it has. */
export function statusPageLine(env: Readonly<Record<string, string | undefined>>, host: string, address: string): string {
  const auth = parseDashboardAuth(env, host);
  if (hasCredentials(auth)) {
    // DASHBOARD_ALLOW_LOOPBACK=1 beside credentials: the page needs none from this machine.
    const who = auth.loopbackStatus
      ? 'with the dashboard credentials; read-only without them to clients on this machine not relayed by a proxy'
      : 'with the dashboard credentials';
    return `status page ${address}/ (${who}), BullMQ dashboard ${address}/admin/queues`;
  }
  if (auth.loopbackStatus) return `status page ${address}/ (read-only, open to this machine only)`;
  return `status page off: ${disabledMessage('status')}`;
}
