import { overBudgetUsd } from '../../domain/budget.js';
import { readBudgetHash } from '../../schemas/budget.js';
import { keys } from '../../schemas/keys.js';
import { fastApiJson, pyFloat, PyJsonNanError, type PyJson } from '../../schemas/python-json.js';
import { parsePyFloat, pyFloatStr } from '../../schemas/python-number.js';
import type { HttpAnswer, RouteContext, RouteDeclaration, RouteRequest } from '../../runtime/contract/index.js';
import { isCrossSite } from '../../domain/cross-site.js';
import type { RiskBudgetConfig } from './config.js';
import type { RiskBudgetMetrics } from './metrics.js';

/** The original kept injected test state for two minutes. */
export const injectedStateTtlSec = 120;

type BudgetRoute = RouteDeclaration<RiskBudgetConfig, RiskBudgetMetrics>;
type BudgetRouteContext = RouteContext<RiskBudgetConfig, RiskBudgetMetrics>;

/**
 * The P2.8 HTTP API of the original FastAPI app (ca9ec8239), answer for answer: GET
 * /budget/{symbol}, POST /budget/check and the test-mode-only POST /test/inject_portfolio_state,
 * their parameters in the query string, 422 with FastAPI's `detail` list for a missing or
 * unreadable parameter, 405 for another method. Served by every process that hosts the
 * risk-budget gate. /health is the gate's declared answer (health.ts); /metrics is the runtime's.
 */
async function budgetOfSymbol(request: RouteRequest, ctx: BudgetRouteContext): Promise<HttpAnswer> {
  const symbol = request.params.symbol ?? '';
  // Starlette matches the decoded path: a symbol with "/" (sent as %2F) or none is no route.
  if (symbol === '' || symbol.includes('/')) return send(404, { detail: 'Not Found' });
  try {
    // HGETALL as a list keeps the hash's own field order, which the original's dict kept.
    const flat = (await ctx.redis.call('HGETALL', keys.budget(symbol))) as string[];
    if (flat.length === 0) return send(200, { error: 'no_budget_data' });
    const fields = new Map<string, PyJson>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
    return send(200, fields);
  } catch (error) {
    return send(500, { detail: messageOf(error) });
  }
}

async function budgetCheck(request: RouteRequest, ctx: BudgetRouteContext): Promise<HttpAnswer> {
  const params = queryParams(request, [
    { name: 'symbol', kind: 'str' },
    { name: 'position_notional', kind: 'float' },
  ]);
  if ('errors' in params) return send(422, { detail: params.errors });
  const symbol = params.values.symbol as string;
  const positionNotional = params.values.position_notional as number;
  const { config, metrics } = ctx;
  const mode = config.P28_MODE;
  const failOpen = (reason: string) => ({ violation: false, budget_usd: null, over_budget: pyFloat(0), mode, reason });
  try {
    const raw = await ctx.redis.hgetall(keys.budget(symbol));
    if (Object.keys(raw).length === 0) return send(200, failOpen('no_budget_data_fail_open'));
    const budget = readBudgetHash(raw);
    const budgetUsd = budget.budget_usd === undefined ? config.MAX_BUDGET_K : parsePyFloat(budget.budget_usd);
    if (budgetUsd === undefined) throw new Error(`could not convert string to float: ${pyStrRepr(budget.budget_usd!)}`);
    const overBudget = overBudgetUsd(positionNotional, budgetUsd);
    const violation = overBudget > 0;
    if (violation && mode === 'enforce') metrics.blocks.inc({ symbol });
    else metrics.allow.inc({ symbol });
    return send(200, {
      violation,
      budget_usd: pyFloat(budgetUsd),
      over_budget: pyFloat(overBudget),
      mode,
      enforce: mode === 'enforce',
    });
  } catch (error) {
    ctx.log.error({ err: messageOf(error), symbol }, 'budget check failed; fail-open');
    return send(200, failOpen(`error_fail_open: ${messageOf(error)}`));
  }
}

async function injectPortfolioState(request: RouteRequest, ctx: BudgetRouteContext): Promise<HttpAnswer> {
  const params = queryParams(request, [
    { name: 'equity_usd', kind: 'float' },
    { name: 'drawdown', kind: 'float', default: 0.0 },
  ]);
  if ('errors' in params) return send(422, { detail: params.errors });
  if (!ctx.config.P28_TEST_MODE) return send(403, { detail: 'Test mode not enabled (P28_TEST_MODE=0)' });
  if (isCrossSite(request)) {
    ctx.log.warn(
      { origin: request.headers.origin, fetchSite: request.headers['sec-fetch-site'] },
      'TEST: refused a cross-site portfolio injection',
    );
    return send(403, {
      detail:
        'cross_site_refused: a web page must not move the portfolio state, even with P28_TEST_MODE=1. ' +
        'Call it from the host itself without a browser, e.g. curl -X POST "http://127.0.0.1:PORT/test/inject_portfolio_state?equity_usd=10000"',
    });
  }
  const injected = {
    equity_usd: pyFloatStr(params.values.equity_usd as number),
    drawdown: pyFloatStr(params.values.drawdown as number),
    timestamp: String(Math.floor(ctx.now() / 1000)),
  };
  try {
    // Field by field, then the TTL, as the original (no transaction there either).
    for (const [field, value] of Object.entries(injected)) await ctx.redis.hset(keys.portfolioState, field, value);
    await ctx.redis.expire(keys.portfolioState, injectedStateTtlSec);
  } catch (error) {
    return send(500, { detail: messageOf(error) });
  }
  ctx.log.info(injected, 'TEST: injected portfolio state');
  return send(200, { success: true, injected, message: `Portfolio state injected (TTL ${injectedStateTtlSec}s)` });
}

/** Starlette answers a known path with another method 405, naming the allowed one. */
const notAllowed = (allow: string) => (): HttpAnswer => ({ ...send(405, { detail: 'Method Not Allowed' }), headers: { allow } });
const otherMethods = ['PUT', 'DELETE', 'PATCH'] as const;

export const budgetRoutes: readonly BudgetRoute[] = [
  { methods: ['GET'], path: '/budget/:symbol', answer: budgetOfSymbol },
  { methods: ['POST'], path: '/budget/check', answer: budgetCheck },
  { methods: ['POST'], path: '/test/inject_portfolio_state', answer: injectPortfolioState },
  { methods: ['POST', ...otherMethods], path: '/budget/:symbol', answer: notAllowed('GET') },
  { methods: ['GET', ...otherMethods], path: '/test/inject_portfolio_state', answer: notAllowed('POST') },
  { methods: [...otherMethods], path: '/budget/check', answer: notAllowed('POST') },
];

/** FastAPI's JSONResponse; a NaN or infinite float makes it raise, which Starlette turns into a bare 500. */
function send(status: number, body: PyJson): HttpAnswer {
  let text: string;
  try {
    text = fastApiJson(body);
  } catch (error) {
    if (!(error instanceof PyJsonNanError)) throw error;
    return { status: 500, contentType: 'text/plain; charset=utf-8', body: 'Internal Server Error' };
  }
  return { status, contentType: 'application/json', body: text };
}

interface QueryParam {
  readonly name: string;
  readonly kind: 'str' | 'float';
  /** Absent: the parameter is required. */
  readonly default?: number;
}

/**
 * The `url` of an error item as the deployed service wrote it. Its venv (/opt/quantum/venvs/
 * ai-engine, deploy/quantum-portfolio-risk-governor.service at ca9ec8239) is built from
 * ops/requirements-native-ai-engine.txt (fastapi==0.109.0 line 14, pydantic==2.5.3 line 25;
 * systemd/scripts/setup_venvs.sh line 31 pins the same fastapi). FastAPI before 0.110.2 listed
 * pydantic's errors() with their url, and pydantic names its major.minor version in it.
 */
const pydanticErrorUrl = (type: string) => `https://errors.pydantic.dev/2.5/v/${type}`;

/**
 * FastAPI's validation of scalar query parameters (pydantic v2): the last value of a repeated
 * one, every problem listed in declaration order with its type, loc, msg, input and url.
 */
function queryParams(
  request: RouteRequest,
  params: readonly QueryParam[],
): { values: Record<string, string | number> } | { errors: PyJson[] } {
  const { query } = request;
  const values: Record<string, string | number> = {};
  const errors: PyJson[] = [];
  for (const param of params) {
    const given = query[param.name];
    const raw = typeof given === 'string' || given === undefined ? given : given[given.length - 1];
    if (raw === undefined) {
      if (param.default !== undefined) values[param.name] = param.default;
      else
        errors.push({ type: 'missing', loc: ['query', param.name], msg: 'Field required', input: null, url: pydanticErrorUrl('missing') });
      continue;
    }
    if (param.kind === 'str') {
      values[param.name] = raw;
      continue;
    }
    const number = parsePyFloat(raw);
    if (number === undefined) {
      errors.push({
        type: 'float_parsing',
        loc: ['query', param.name],
        msg: 'Input should be a valid number, unable to parse string as a number',
        input: raw,
        url: pydanticErrorUrl('float_parsing'),
      });
    } else {
      values[param.name] = number;
    }
  }
  return errors.length > 0 ? { errors } : { values };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** repr() of a Python str, for the messages Python's float() raises with. */
function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s
    .replaceAll('\\', '\\\\')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t')
    .replaceAll(quote, `\\${quote}`);
  return `${quote}${body}${quote}`;
}
