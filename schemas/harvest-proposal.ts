import * as z from 'zod';
import { symbolSchema } from './common.js';

/**
 * Longest value of a free-text field (trace_id, reason, any other field carried along) that the
 * heat gate copies into its outputs; longer ones are truncated there, never refused.
 */
export const FREE_TEXT_MAX = 1000;

/** As the original read it: present and not empty, used exactly as written (no trimming). */
const written = z.string().min(1, 'must not be empty');

/**
 * An entry of quantum:stream:harvest.proposal. The original (`_process_proposal`) needed
 * plan_id, symbol and action, compared the action as written and carried every other field;
 * the action may also arrive as `harvest_action` (the Harvest Kernel's name for it). Free text
 * has no length limit here: the gate truncates what it copies.
 */
export const harvestProposalSchema = z
  .looseObject({
    plan_id: written,
    symbol: symbolSchema,
    action: written.optional(),
    harvest_action: written.optional(),
    trace_id: z.string().optional(),
    reason: z.string().optional(),
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
