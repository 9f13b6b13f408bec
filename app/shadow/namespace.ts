import { keys } from '../../schemas/keys.js';

/**
 * Everything the shadow writes lives under SHADOW_PREFIX, which no gate and no Python service
 * reads: its decisions, its own idempotency markers, its dead letters, its summary. On the
 * pipeline's streams it owns only a consumer group of its own (`<group>:shadow`), so it takes
 * no entry from the incumbent's group.
 */
export const SHADOW_PREFIX = 'quantum:shadow:';

/** The shadow's consumer group on a stream whose incumbent group is `group`. */
export const shadowGroup = (group: string): string => `${group}:shadow`;

/** The stream of the shadow's decisions for `gate` (records.ts). */
export const shadowDecisionsKey = (gate: string): string => `${SHADOW_PREFIX}decisions:${gate}`;

/** Where the shadow keeps an idempotency marker the gate would have written at `key`. */
export const shadowMarkerKey = (key: string): string => `${SHADOW_PREFIX}marker:${key}`;

/** The shadow's dead letters (what the gate would have dead-lettered, with the reason). */
export const SHADOW_DEAD_LETTERS = `${SHADOW_PREFIX}dead-letters`;

/** Per gate: the stream id the shadow started deciding after (`<gate>:since`) and its last decided id. */
export const SHADOW_STATE = `${SHADOW_PREFIX}state`;

/** The running tally of pairs by class, the lag and the time of the last pairing (cli/shadow/live-pairing.ts). */
export const SHADOW_SUMMARY = `${SHADOW_PREFIX}summary`;

/** The last unexplained pairs, both decisions side by side (newest last). */
export const SHADOW_UNEXPLAINED = `${SHADOW_PREFIX}unexplained`;

/** The verdict differences that change exposure, kept by the live pairing to be priced as their outcome samples come in. */
export const SHADOW_DIFFERENCES = `${SHADOW_PREFIX}differences`;

/** Whether `key` is the shadow's own (every key the shadow writes, but its group on the pipeline's streams). */
export const isShadowKey = (key: string): boolean => key.startsWith(SHADOW_PREFIX);

/**
 * The Python budget engine's ticks as the live pairing saw them (cli/shadow/python-budget.ts): it
 * keeps only its last tick in each budget hash, so each one seen is kept here to be paired later.
 */
export const SHADOW_INCUMBENT_BUDGETS = `${SHADOW_PREFIX}incumbent:risk-budget`;
/** Per symbol, the stamp of the Python budget hash last kept in SHADOW_INCUMBENT_BUDGETS. */
export const SHADOW_INCUMBENT_BUDGETS_SEEN = `${SHADOW_PREFIX}incumbent:risk-budget:seen`;
/** What a start deletes of what the pairing kept of the incumbent. */
export const SHADOW_INCUMBENT_KEYS: readonly string[] = [SHADOW_INCUMBENT_BUDGETS, SHADOW_INCUMBENT_BUDGETS_SEEN];

/**
 * The outcome follow-ups of the shadow's own decisions (outcomes.ts): what the follow-ups would
 * have recorded under `quantum:gates:outcome:` (a decision's follow-up hash, its samples' keys,
 * the pending index) is kept under this prefix instead.
 */
export const SHADOW_OUTCOME_PREFIX = `${SHADOW_PREFIX}outcome:`;
/** The live follow-ups' key prefix: every key of theirs (the follow-up hash, a sample's key, the pending index) starts so. */
export const LIVE_OUTCOME_PREFIX = keys.outcomeFollowUp('');
/** Where a follow-up key of the live gates is kept for the shadow's own decisions; undefined for any other key. */
export const shadowOutcomeKey = (key: string): string | undefined =>
  key.startsWith(LIVE_OUTCOME_PREFIX) ? `${SHADOW_OUTCOME_PREFIX}${key.slice(LIVE_OUTCOME_PREFIX.length)}` : undefined;
/** The shadow's outcome samples (as OUTCOME_STREAM holds the live gates'), priced by `shadow report`. */
export const SHADOW_OUTCOMES = `${SHADOW_PREFIX}outcomes`;
/** The sample jobs the shadow's follow-ups scheduled, due at their horizon (score: ms): BullMQ's delayed jobs, kept here. */
export const SHADOW_OUTCOME_JOBS = `${SHADOW_PREFIX}outcome-jobs`;
