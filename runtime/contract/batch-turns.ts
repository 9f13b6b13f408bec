/**
 * Turns in batch order, for decisions that build on the batch's earlier ones (the governor's caps,
 * the outcomes' pending bound). The runtime starts a batch's messages concurrently; a handler that
 * takes its turn before its first await decides after every earlier message of the batch, whatever
 * its own reads awaited. One per batch (and re-run), kept in the batch state.
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
