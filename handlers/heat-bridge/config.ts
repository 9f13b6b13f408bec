import * as z from 'zod';
import { envInt, parseEnv } from '../../schemas/env.js';
import { streams } from '../../schemas/keys.js';

/** The Python HeatBridge's variables and defaults (seed 004, heat-bridge.env). */
export const heatBridgeEnvSchema = z.object({
  P27_STREAM_IN: z.string().min(1).default(streams.heatDecision),
  P27_GROUP: z.string().min(1).default('heat_bridge'),
  P27_TTL_PLAN_SEC: envInt(1800, 1),
  P27_TTL_SYMBOL_SEC: envInt(1800, 1),
  P27_DEDUPE_TTL_SEC: envInt(120, 1),
  /** The original's health port (8071 there); unset: /health on PORT only (see health.ts). */
  P27_HEALTH_PORT: z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a port number')
    .min(0)
    .max(65535, 'must be a port number')
    .optional(),
});

export type HeatBridgeConfig = z.infer<typeof heatBridgeEnvSchema>;

export const parseHeatBridgeConfig = (env: Readonly<Record<string, string | undefined>>): HeatBridgeConfig =>
  parseEnv(heatBridgeEnvSchema, env);
