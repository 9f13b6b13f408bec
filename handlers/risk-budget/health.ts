import type { HttpAnswer, HealthDeclaration } from '../../runtime/contract/index.js';
import { fastApiJson } from '../../schemas/python-json.js';
import type { RiskBudgetConfig } from './config.js';

/** FastAPI's JSONResponse: compact JSON, this content type. */
const fastApiAnswer = (status: number, body: Parameters<typeof fastApiJson>[0]): HttpAnswer => ({
  status,
  contentType: 'application/json',
  body: fastApiJson(body),
});

/**
 * The original's GET /health (FastAPI): Redis answers PING → 200
 * {"status":"healthy","service":"p2.8-portfolio-risk-governor","mode":P28_MODE,"redis":"connected"};
 * otherwise HTTPException(503, detail="Unhealthy: {e}").
 */
export const riskBudgetHealth: HealthDeclaration<RiskBudgetConfig> = {
  async answer(probe) {
    try {
      await probe.ping();
    } catch (error) {
      return fastApiAnswer(503, { detail: `Unhealthy: ${error instanceof Error ? error.message : String(error)}` });
    }
    return fastApiAnswer(200, {
      status: 'healthy',
      service: 'p2.8-portfolio-risk-governor',
      mode: probe.config.P28_MODE,
      redis: 'connected',
    });
  },
};
