/**
 * A governor permit's follow-up record as outcome-governor writes it (handlers/outcomes/follow-up.ts):
 * an open of $200 of ETHUSDT at 2,000, decided at `decidedAt` (ms).
 */
export const permitFollowUp = (decidedAt: number): Record<string, string> => ({
  kind: 'governor_permit',
  symbol: 'ETHUSDT',
  exposure_usd: '200',
  entry_price: '2000',
  decided_at: String(decidedAt),
});
