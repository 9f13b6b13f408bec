import { z } from 'zod';
import { idField, symbolSchema } from './common.js';

const actionField = z.string().trim().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be an upper-case action such as FULL_CLOSE or PARTIAL_50');

/**
 * An entry of quantum:stream:harvest.proposal. The action arrives as `action` or, from older
 * producers, `harvest_action`; other fields are kept and carried to the outputs.
 */
export const harvestProposalSchema = z
  .looseObject({
    plan_id: idField,
    symbol: symbolSchema,
    action: actionField.optional(),
    harvest_action: actionField.optional(),
    trace_id: z.string().max(200).optional(),
    reason: z.string().max(1000).optional(),
  })
  .refine((p) => p.action !== undefined || p.harvest_action !== undefined, {
    message: 'needs an action (field "action" or "harvest_action")',
    path: ['action'],
    // Report a missing action alongside other problems, so a dead letter lists everything wrong.
    when: (payload) => {
      const value = payload.value as Record<string, unknown> | undefined;
      return typeof value === 'object' && value !== null && value.action === undefined && value.harvest_action === undefined;
    },
  })
  .transform((p) => ({ ...p, proposedAction: (p.action ?? p.harvest_action)! }));

export type HarvestProposal = z.infer<typeof harvestProposalSchema>;
