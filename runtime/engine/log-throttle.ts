/**
 * Repeated identical warnings and errors, said once per window with how often they came: a Redis
 * outage made every BullMQ worker log "worker error" 13 times a second, burying the one line that
 * said what was wrong. The first occurrence is always written; the repeats within `windowMs` of
 * the last written one are counted, and the next one after the window carries `repeated: N`.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { writtenAt: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Distinct lines remembered; the oldest is forgotten beyond this, so memory stays bounded. */
    private readonly maxKeys = 1000,
  ) {}

  /** Whether to write the line with this key now, and how many identical ones were held back before it. */
  admit(key: string): { write: boolean; repeated: number } {
    const now = this.now();
    const entry = this.seen.get(key);
    if (entry !== undefined && now - entry.writtenAt < this.windowMs) {
      entry.suppressed += 1;
      return { write: false, repeated: 0 };
    }
    const repeated = entry?.suppressed ?? 0;
    this.seen.delete(key); // re-inserted last, so the map's order is the order of writing
    this.seen.set(key, { writtenAt: now, suppressed: 0 });
    if (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value!);
    return { write: true, repeated };
  }
}

/**
 * The bindings that name one message or job (runtime/sources: a stream entry's id, plan_id and
 * trace_id, a job's id), as pino serialises them. A warning every budget tick (a job each) is the
 * same warning each time: with them in the key no two lines were ever identical.
 */
const PER_MESSAGE_BINDING = /,"(?:id|job|plan_id|trace_id)":"(?:[^"\\]|\\.)*"/g;

/**
 * What makes two lines "identical": level, bindings (which gate, which symbol) but those naming
 * one message, message, error text and the symbol the line is about.
 */
export function throttleKey(level: number, bindings: string, args: readonly unknown[]): string {
  const message = args.find((a): a is string => typeof a === 'string') ?? '';
  const first = args[0];
  const fields = typeof first === 'object' && first !== null ? (first as { err?: unknown; symbol?: unknown }) : undefined;
  const err = fields !== undefined && 'err' in fields ? String(fields.err) : '';
  const symbol = typeof fields?.symbol === 'string' ? fields.symbol : '';
  return `${level}|${bindings.replace(PER_MESSAGE_BINDING, '')}|${message}|${err}|${symbol}`;
}
