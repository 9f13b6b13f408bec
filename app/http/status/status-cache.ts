/**
 * GET /status for many readers at the cost of one: every request within `ttlMs` of the last read
 * gets that read's body, and requests that arrive while a read is under way wait for it instead
 * of starting their own. A storm of clients then costs Redis and the event loop one status read
 * per `ttlMs`, however many there are, so the gates keep their share of both.
 */
export class StatusCache {
  private body: string | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<string> | undefined;

  constructor(
    private readonly collect: () => Promise<unknown>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The status as JSON text, serialised once per read rather than once per request. */
  get(): Promise<string> {
    if (this.body !== undefined && this.now() - this.readAt < this.ttlMs) return Promise.resolve(this.body);
    if (this.inFlight !== undefined) return this.inFlight;
    const startedAt = this.now();
    this.inFlight = this.collect()
      .then((status) => {
        this.body = JSON.stringify(status);
        this.readAt = startedAt;
        return this.body;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
