/** P3.3 refreshes every 5 s; its newest era's snapshot cycle targets 3 s: 30 s is six missed rounds. */
export const DEFAULT_PRICE_MAX_AGE_SEC = 30;

/**
 * How far ahead of our clock a figure's stamp (a price quote's, a position's) may be: clocks of
 * producers and gates differ a little. The same bound as a plan's (GOV_PLAN_CLOCK_SKEW_SEC, 5 s).
 */
export const DEFAULT_PRICE_MAX_SKEW_SEC = 5;
