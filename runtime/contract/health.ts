import type { HttpAnswer } from './routes.js';

/** What a gate's /health or /metrics answer is built from, at each request. */
export interface HealthProbe<Config> {
  readonly config: Config;
  ping(): Promise<void>; // PING on the command connection
  metrics(): Promise<HttpAnswer>; // the process's /metrics answer (prometheus_client's server gave it on every path)
  metricValue(name: string): Promise<number | undefined>; // an unlabelled metric's
  metricSeries(name: string): Promise<readonly { readonly labels: Readonly<Record<string, string | number>>; readonly value: number }[]>;
  readonly pending: number; // in the gate's consumer group (stream gates; 0 before the first look)
  readonly lastLoopMs: number; // the gate's last read-and-handle loop (stream gates)
}

/** The original service's GET /health, declared by the gate so the runtime need not know any gate. */
export interface HealthDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HttpAnswer>;
  port?(config: Config): number | undefined; // where the original served health apart (P2.7); undefined: PORT only
}

/** For an original whose only HTTP server was prometheus_client's: every path, /health too, gave the metrics. */
export const metricsAsHealth: HealthDeclaration<unknown> = { answer: (probe) => probe.metrics() };

/**
 * The original's own hand-written GET /metrics text (P2.7's, read by grep | awk), served on PORT by a process hosting only
 * this gate to a client that does not ask for Prometheus's format (Accept); a scraper that asks gets the runtime's exposition.
 */
export interface MetricsDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HttpAnswer>;
}
