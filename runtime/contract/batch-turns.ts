/**
 * Turns in batch order, for decisions that build on the batch's earlier ones (the governor's caps,
 * the outcomes' pending bound): the runtime starts a batch's messages concurrently and in order, so
 * a turn taken before the first await follows every earlier message's. One per batch (and re-run), in its state.
 */
export class BatchTurns {
  private tail: Promise<void> = Promise.resolve();

  /** Before the first await (so turns follow batch order). `ready`: every earlier turn is done; call `done` however it ends. */
  takeTurn(): { ready: Promise<void>; done: () => void } {
    const ready = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    return { ready, done };
  }
}
