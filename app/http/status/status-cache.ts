/**
 * GET /status for many readers at the cost of one: every request within `ttlMs` of the last read
 * gets that read's body, and requests that arrive while a read is under way wait for it instead
 * of starting their own. A storm of clients then costs Redis and the event loop one status read
 * per `ttlMs`, however many there are, so the gates keep their share of both.
 *
 * A request that asks for a fresh read (`Cache-Control: no-cache`, as `quantum-gates status`
 * sends) gets one that began after it arrived: an operator who has just set the kill switch never
 * reads a status from before it. Such requests still share reads, one at a time, so even a storm
 * of them costs one read after another, never several at once.
 */
export class StatusCache {
  private body: string | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  /** The read under way, numbered in the order reads started. */
  private inFlight: { readonly number: number; readonly body: Promise<string> } | undefined;
  private readsStarted = 0;

  constructor(
    private readonly collect: () => Promise<unknown>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** The status as JSON text, serialised once per read rather than once per request. */
  get(options: { readonly fresh?: boolean } = {}): Promise<string> {
    if (!options.fresh && this.body !== undefined && this.now() - this.readAt < this.ttlMs) return Promise.resolve(this.body);
    if (this.inFlight === undefined) return this.read();
    if (!options.fresh) return this.inFlight.body;
    // The read under way began before this request: what its caller just wrote may have landed
    // after that read's own. The next read, which every fresh request waiting here shares, began after.
    const before = this.readsStarted;
    const settled = () => (this.inFlight !== undefined && this.inFlight.number > before ? this.inFlight.body : this.read());
    return this.inFlight.body.then(settled, settled);
  }

  private read(): Promise<string> {
    const startedAt = this.now();
    const number = ++this.readsStarted;
    const body = this.collect()
      .then((status) => {
        this.body = JSON.stringify(status);
        this.readAt = startedAt;
        return this.body;
      })
      .finally(() => {
        if (this.inFlight?.number === number) this.inFlight = undefined;
      });
    this.inFlight = { number, body };
    return body;
  }
}
