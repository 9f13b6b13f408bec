/** One HTTP answer, byte for byte: status, content type, body and any further headers. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A /health answer is an HTTP answer like any other. */
export type HealthAnswer = HttpAnswer;
