/**
 * Turns in batch order, for a gate whose decisions build on the ones before them in the batch
 * (the governor's caps, the outcome handlers' pending bound). The runtime starts a batch's
 * messages concurrently; a handler that takes its turn before its first await decides after every
 * earlier message of the batch has decided, whatever its own reads awaited. Kept in the batch
 * state, one per batch (and per re-run).
 */
export class BatchTurns {
  private tail: Promise<void> = Promise.resolve();

  /**
   * Takes the next turn; call it before the handler's first await, so turns follow the order in
   * which the runtime starts the batch's messages (batch order). `ready` resolves once every
   * earlier turn is done; `done` must be called however the decision ends.
   */
  takeTurn(): { ready: Promise<void>; done: () => void } {
    const ready = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    return { ready, done };
  }
}
