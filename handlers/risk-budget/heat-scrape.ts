/**
 * Portfolio heat read from the heat gate's Prometheus endpoint, for the split deployment where
 * the budget engine does not run beside the heat gate (seed 003). The composite metric of the
 * original deployment is preferred; this project's heat gate exports p26_heat_value.
 */
export const heatMetricNames = ['portfolio_heat_composite_normalized', 'p26_heat_value'] as const;

export type HeatMetricName = (typeof heatMetricNames)[number];

export type ScrapedHeat =
  | { readonly ok: true; readonly value: number; readonly metric: HeatMetricName }
  | { readonly ok: false; readonly problem: 'unreachable' | 'http_error' | 'metric_absent'; readonly detail: string };

/** Finds the first sample of the preferred metric in a text exposition; undefined if none parses. */
export function parseHeatMetric(exposition: string): { value: number; metric: HeatMetricName } | undefined {
  const samples = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(trimmed);
    if (!match) continue;
    const [, name, , rawValue] = match;
    const value = Number(rawValue);
    // Heat is a non-negative ratio; NaN or a negative sample is not a reading.
    if (!samples.has(name!) && Number.isFinite(value) && value >= 0) samples.set(name!, value);
  }
  for (const metric of heatMetricNames) {
    const value = samples.get(metric);
    if (value !== undefined) return { value, metric };
  }
  return undefined;
}

/**
 * Scrapes the URL once. Never throws: a failed scrape is a reading of its own, which the
 * handler turns into the seed's fallback heat of 0.0 and a stale-input count.
 */
export async function scrapeHeat(url: string, timeoutMs: number): Promise<ScrapedHeat> {
  let body: string;
  try {
    // Global fetch (Node 20): this is I/O outside Redis, which only loadBatchState may do.
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' } });
    if (!response.ok) return { ok: false, problem: 'http_error', detail: `HTTP ${response.status}` };
    body = await response.text();
  } catch (error) {
    return { ok: false, problem: 'unreachable', detail: error instanceof Error ? error.message : String(error) };
  }
  const found = parseHeatMetric(body);
  if (!found) return { ok: false, problem: 'metric_absent', detail: `none of ${heatMetricNames.join(', ')} in the response` };
  return { ok: true, ...found };
}
