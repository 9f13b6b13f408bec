/**
 * Portfolio heat read from the heat gate's Prometheus endpoint (HEAT_GATE_METRICS_URL), as the
 * original's fetch_portfolio_heat reads it: a 200 answer, the first line that starts with
 * "p26_heat_value", its second whitespace-separated word through float(). Anything else (no
 * answer, another status, no such line, a word float() rejects) is no reading: heat 0.0.
 */
import { parsePyFloat } from '../../schemas/python-number.js';

export const heatMetricName = 'p26_heat_value';

export type ScrapedHeat =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly problem: 'unreachable' | 'http_error' | 'metric_absent' | 'unparseable'; readonly detail: string };

/**
 * The original's loop: lines starting with the name (a longer name such as p26_heat_value_x, or a
 * labelled sample, starts with it too), the first with two or more words decides. NaN and negative
 * values are readings, as float() gives them.
 */
export function parseHeatMetric(exposition: string): ScrapedHeat {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(heatMetricName)) continue;
    const parts = line.split(/\s+/).filter((p) => p !== '');
    if (parts.length < 2) continue;
    const value = parsePyFloat(parts[1]);
    return value === undefined ? { ok: false, problem: 'unparseable', detail: `float(${JSON.stringify(parts[1])})` } : { ok: true, value };
  }
  return { ok: false, problem: 'metric_absent', detail: `no line starting with ${heatMetricName}` };
}

/** Scrapes the URL once; never throws. Redirects are not followed (httpx's default). */
export async function scrapeHeat(url: string, timeoutMs: number): Promise<ScrapedHeat> {
  let body: string;
  try {
    // Global fetch (Node 20): this is I/O outside Redis, which only loadBatchState may do.
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    if (response.status !== 200) return { ok: false, problem: 'http_error', detail: `HTTP ${response.status}` };
    body = await response.text();
  } catch (error) {
    return { ok: false, problem: 'unreachable', detail: error instanceof Error ? error.message : String(error) };
  }
  return parseHeatMetric(body);
}
