import { isCrossSite } from './cross-site.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RiskBudgetConfig } from '../../handlers/risk-budget/config.js';
import { riskBudget } from '../../handlers/risk-budget/index.js';
import type { RiskBudgetMetrics } from '../../handlers/risk-budget/metrics.js';
import { roundTo } from '../../handlers/risk-budget/stress.js';
import { numericField, symbolSchema } from '../../schemas/common.js';
import { keys } from '../../schemas/keys.js';
import type { RuntimeServices } from '../runtime.js';

/** The original kept injected test state for two minutes. */
export const injectedStateTtlSec = 120;

/** A JSON number, or a decimal string (the original took these as query parameters). */
const finiteNumber = z.union([z.number(), numericField], { message: 'must be a number' });

export const budgetCheckBody = z.object({ symbol: symbolSchema, position_notional: finiteNumber });
export const injectPortfolioBody = z.object({
  equity_usd: finiteNumber.refine((v) => v > 0, 'must be positive'),
  drawdown: finiteNumber.optional(),
});

export interface BudgetApiOptions {
  readonly now?: () => number;
}

/**
 * The P2.8 HTTP API of the Python service on the runtime's server: GET /budget/:symbol,
 * POST /budget/check and the test-mode-only POST /test/inject_portfolio_state. Served only by a
 * process that hosts the risk-budget handler (its config and metrics are the handler's).
 */
export function budgetApi(services: RuntimeServices, options: BudgetApiOptions = {}): FastifyPluginAsync {
  const now = options.now ?? Date.now;
  return async (app) => {
    const hosted = services.handlers.find((h) => h.handler.name === riskBudget.name);
    if (!hosted) return;
    // The runtime parsed this config and built these metrics with riskBudget's own declaration.
    const config = hosted.config as RiskBudgetConfig;
    const metrics = hosted.metrics as RiskBudgetMetrics;
    const { redis } = services;
    const log = services.logger.child({ component: 'budget-api' });

    app.get('/budget/:symbol', async (request, reply) => {
      const parsed = z.object({ symbol: symbolSchema }).safeParse(request.params);
      if (!parsed.success) return badRequest(reply, parsed.error);
      const budget = await redis.hgetall(keys.budget(parsed.data.symbol));
      if (Object.keys(budget).length === 0) return reply.code(404).send({ error: 'no_budget_data', symbol: parsed.data.symbol });
      return budget;
    });

    app.post('/budget/check', async (request, reply) => {
      const input = requestInput(request);
      if (input === undefined) return badRequestBody(reply);
      const parsed = budgetCheckBody.safeParse(input);
      if (!parsed.success) return badRequest(reply, parsed.error);
      const { symbol, position_notional } = parsed.data;
      const mode = config.P28_MODE;
      const failOpen = (reason: string) => ({ violation: false, budget_usd: null, over_budget: 0, mode, reason });

      let budget: Record<string, string>;
      try {
        budget = await redis.hgetall(keys.budget(symbol));
      } catch (error) {
        log.error({ err: error instanceof Error ? error.message : String(error), symbol }, 'budget check could not read Redis; fail-open');
        return reply.code(503).send(failOpen('redis_unavailable_fail_open'));
      }
      if (Object.keys(budget).length === 0) return failOpen('no_budget_data_fail_open');
      const budgetUsd = Number(budget.budget_usd);
      if (budget.budget_usd === undefined || budget.budget_usd.trim() === '' || !Number.isFinite(budgetUsd)) return failOpen('invalid_budget_data_fail_open');

      const overBudget = Math.max(0, roundTo(Math.abs(position_notional) - budgetUsd, 2));
      const violation = overBudget > 0;
      if (violation && mode === 'enforce') metrics.blocks.inc({ symbol });
      else metrics.allow.inc({ symbol });
      return { violation, budget_usd: budgetUsd, over_budget: overBudget, mode, enforce: mode === 'enforce', timestamp: Number(budget.timestamp) || null };
    });

    app.post('/test/inject_portfolio_state', async (request, reply) => {
      if (!config.P28_TEST_MODE) return reply.code(403).send({ error: 'test_mode_disabled', detail: 'Test mode not enabled (P28_TEST_MODE=0)' });
      if (isCrossSite(request)) {
        log.warn({ origin: request.headers.origin, fetchSite: request.headers['sec-fetch-site'] }, 'TEST: refused a cross-site portfolio injection');
        return reply.code(403).send({
          error: 'cross_site_refused',
          detail:
            'Cross-site request refused, even with P28_TEST_MODE=1: a web page must not move the portfolio state. ' +
            'Call it from the host itself without a browser, e.g. curl -X POST http://127.0.0.1:PORT/test/inject_portfolio_state -H "content-type: application/json" -d \'{"equity_usd": 10000}\'',
        });
      }
      const input = requestInput(request);
      if (input === undefined) return badRequestBody(reply);
      const parsed = injectPortfolioBody.safeParse(input);
      if (!parsed.success) return badRequest(reply, parsed.error);
      const injected = {
        equity_usd: String(parsed.data.equity_usd),
        drawdown: String(parsed.data.drawdown ?? 0),
        timestamp: String(Math.floor(now() / 1000)),
      };
      await redis.multi().hset(keys.portfolioState, injected).expire(keys.portfolioState, injectedStateTtlSec).exec();
      log.info(injected, 'TEST: injected portfolio state');
      return { success: true, injected, message: `Portfolio state injected (TTL ${injectedStateTtlSec}s)` };
    });
  };
}

/** The JSON body merged over the query string; undefined when the body is not an object. */
function requestInput(request: FastifyRequest): Record<string, unknown> | undefined {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = request.body;
  if (body === undefined || body === null) return { ...query };
  if (typeof body !== 'object' || Array.isArray(body)) return undefined;
  return { ...query, ...(body as Record<string, unknown>) };
}

function badRequestBody(reply: FastifyReply) {
  return reply.code(400).send({ error: 'invalid_request', field: '(body)', message: '(body): must be a JSON object' });
}

function badRequest(reply: FastifyReply, error: z.ZodError) {
  const issues = error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message }));
  const first = issues[0]!;
  return reply.code(400).send({ error: 'invalid_request', field: first.field, message: `${first.field}: ${first.message}`, issues });
}
