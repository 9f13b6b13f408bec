import * as z from 'zod';
import { envChoice, envInt, envMode, envNumber, parseEnv } from '../../schemas/env.js';
import { streams } from '../../schemas/keys.js';
import { positionBookEnvShape } from '../positions/book.js';
import { applyLayerEras } from './apply-layer-era.js';

export const heatGateEnvSchema = z
  .object({
    P26_MODE: envMode('shadow'),
    HEAT_MIN: envNumber(0.25).refine((v) => v >= 0, 'must not be negative'),
    HEAT_MAX: envNumber(0.65).refine((v) => v >= 0, 'must not be negative'),
    P26_INPUT_STREAM: z.string().min(1).default(streams.harvestProposal),
    P26_OUTPUT_STREAM: z.string().min(1).default(streams.harvestCalibrated),
    P26_DECISION_STREAM: z.string().min(1).default(streams.heatDecision),
    P26_GROUP: z.string().min(1).default('p26_heat_gate'),
    P26_PROPOSAL_TTL_SEC: envInt(300, 1),
    /**
     * Which Apply Layer reads the proposal hash (handlers/heat-gate/apply-layer-era.ts): what
     * enforce mode writes and which partial a COLD full close becomes. `newest` (upstream since
     * 304998721, as at 73fab1f55) is the original heat gate's own writing.
     */
    P26_APPLY_LAYER_ERA: envChoice(applyLayerEras, 'newest'),
    /** How often each replica recomputes p26_heat_value without a proposal (seed 003: every 10 s). */
    P26_HEAT_REFRESH_MS: envInt(10_000, 1000),
    ...positionBookEnvShape,
  })
  .refine((c) => c.HEAT_MIN < c.HEAT_MAX, { message: 'must be greater than HEAT_MIN', path: ['HEAT_MAX'] });

export type HeatGateConfig = z.infer<typeof heatGateEnvSchema>;

export const parseHeatGateConfig = (env: Readonly<Record<string, string | undefined>>): HeatGateConfig =>
  parseEnv(heatGateEnvSchema as unknown as z.ZodObject, env) as HeatGateConfig;
