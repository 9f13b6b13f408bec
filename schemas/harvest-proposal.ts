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
 * The symbol as the original heat gate took it: any symbol, in any case (it calibrated
 * `ethusdt` under quantum:harvest:proposal:ethusdt); no spaces or separators, which no exchange
 * symbol has and which would make another key.
 */
export const proposalSymbolSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$/, 'must be an exchange symbol such as BTCUSDT');

/**
 * An entry of quantum:stream:harvest.proposal. Two producers write proposals there:
 * - the Harvest Kernel's publisher (microservices/harvest_proposal_publisher/main.py, 8f5055c52
 *   lines 337-372, 73fab1f55 lines 393-429): `symbol`, `harvest_action` and its figures
 *   (kill_score, new_sl_proposed, computed_at_utc, ...), no plan_id, action or trace_id;
 * - the seeds' format: plan_id, symbol, action (`_process_proposal` of the original).
 * `harvest_action` is read before `action` (upstream's own P2.6 since d49510ba7). A kernel
 * proposal needs no plan_id: the gate derives the Apply Layer's (handlers/heat-gate/plan-id.ts).
 * Free text has no length limit here: the gate truncates what it copies.
 */
export const harvestProposalSchema = proposalSchema(proposalSymbolSchema);

/** What an operator injects (`quantum-gates inject proposal`): an upper-case exchange symbol, a likely typo otherwise. */
export const injectedProposalSchema = proposalSchema(symbolSchema);

function proposalSchema(symbol: z.ZodType<string, string>) {
  return (
    z
      .looseObject({
        plan_id: written.optional(),
        symbol,
        action: written.optional(),
        harvest_action: written.optional(),
        trace_id: z.string().optional(),
        reason: z.string().optional(),
        kill_score: z.string().optional(),
        new_sl_proposed: z.string().optional(),
        computed_at_utc: z.string().optional(),
      })
      // Each rule is checked even when another field failed (`when`), so a dead letter lists everything wrong.
      .refine((p) => p.action !== undefined || p.harvest_action !== undefined, {
        message: 'needs an action (field "action" or "harvest_action")',
        path: ['action'],
        when: (payload) => {
          const value = rawOf(payload.value);
          return value !== undefined && value.action === undefined && value.harvest_action === undefined;
        },
      })
      .refine((p) => p.plan_id !== undefined || p.harvest_action !== undefined, {
        message: 'needs a plan_id (only a kernel proposal, with harvest_action, goes without)',
        path: ['plan_id'],
        when: (payload) => {
          const value = rawOf(payload.value);
          return value !== undefined && value.plan_id === undefined && value.harvest_action === undefined;
        },
      })
      .transform((p) => ({ ...p, proposedAction: (p.harvest_action ?? p.action)! }))
  );
}

export type HarvestProposal = z.infer<typeof harvestProposalSchema>;

function rawOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
