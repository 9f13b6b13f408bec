/**
 * When a stream consumer sends its next read: ahead, while it handles the batch in hand (the
 * default: the read's round trip and the batch state riding with it overlap the work), or once
 * the batch's commit has gone out, when the consumer is far from capacity.
 *
 * Far from capacity a read sent ahead blocks until the next entry anyway, so there is nothing to
 * overlap; but its socket write (a system call that also wakes redis-server) and the state read
 * it builds come first, on the way of the batch in hand to its commit: at 1,000 messages a second
 * a one-entry batch at a time, that is a tenth of a message's way (docs/performance.md, fourth
 * session). Near capacity a one-entry batch also happens, and there reading after the commit
 * serialises the commit, the read and the state read, and the queue grows (third session). So the
 * signal is not the batch's size alone but the time the consumer waited for the batch against
 * its own time to handle one: waiting longer than FAR_FROM_CAPACITY times that, the next entry is
 * unlikely to arrive while this batch is handled.
 */
const FAR_FROM_CAPACITY = 2;
/** Weight of the newest handling time in the running average. */
const SMOOTHING = 0.2;

export class ReadPacing {
  private handlingMs: number | undefined;

  constructor(private readonly batchSize: number) {}

  /** Whether the read after a batch of `entries`, for which the consumer waited `waitedMs`, should wait for its commit. */
  readAfterCommit(entries: number, waitedMs: number): boolean {
    return this.handlingMs !== undefined && entries < this.batchSize && waitedMs > FAR_FROM_CAPACITY * this.handlingMs;
  }

  /** Records how long a batch took from its read's answer to its commit going out (or settling, where commits wait). */
  handled(ms: number): void {
    this.handlingMs = this.handlingMs === undefined ? ms : this.handlingMs + SMOOTHING * (ms - this.handlingMs);
  }
}
