/** A wait that ran out: what was waited for may still finish, unobserved. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * `work`, or a TimeoutError after `ms`, whichever comes first; the timer is cleared either way,
 * so a wait that is answered keeps nothing alive. The one timeout of the host's reads (status
 * sections, queue metrics, a gate's health PING, the start-up preflight).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, message = `no answer within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
