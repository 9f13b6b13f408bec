import type { HealthAnswer, HttpAnswer } from './answer.js';

/** What a gate's /health or /metrics answer may be built from; the runtime provides it at each request. */
export interface HealthProbe<Config> {
  readonly config: Config;
  /** PING on the command connection; rejects when Redis does not answer. */
  ping(): Promise<void>;
  /** The process's /metrics answer (prometheus_client's server gave it on every path). */
  metrics(): Promise<HealthAnswer>;
  /** The value of an unlabelled metric of the process; undefined when it has none. */
  metricValue(name: string): Promise<number | undefined>;
  /** Every series of a metric of the process with its labels; empty when it has none. */
  metricSeries(name: string): Promise<readonly { readonly labels: Readonly<Record<string, string | number>>; readonly value: number }[]>;
  /** Entries pending in the gate's consumer group (stream gates; 0 before the first look). */
  readonly pending: number;
  /** Milliseconds the gate's last read-and-handle loop took (stream gates; 0 before the first). */
  readonly lastLoopMs: number;
}

/** The original service's GET /health, declared by the gate so the runtime need not know any gate. */
export interface HealthDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HealthAnswer>;
  /** A port of its own where the original served health apart (P2.7); undefined: PORT only. */
  port?(config: Config): number | undefined;
}

/** For an original whose only HTTP server was prometheus_client's: every path, /health too, gave the metrics. */
export const metricsAsHealth: HealthDeclaration<unknown> = { answer: (probe) => probe.metrics() };

/**
 * The original's own hand-written GET /metrics text (P2.7's untyped lines, read by grep | awk).
 * Served on PORT by a process hosting only this gate, to a client that does not ask for
 * Prometheus's format (its Accept header names text/plain;version=0.0.4 or
 * application/openmetrics-text); a scraper that asks gets the runtime's exposition.
 */
export interface MetricsDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HttpAnswer>;
}
