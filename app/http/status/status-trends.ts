/** One gate's numbers at one moment, as the status reports them. */
export interface GateNumbers {
  readonly name: string;
  /** Finished by the failure policy's fallback (counted since the process started). */
  readonly failed: number;
  readonly dead_lettered: number;
  /** Pending plus lag of its consumer group; null when unknown or not a stream gate. */
  readonly backlog: number | null;
}

/** How a gate's numbers moved between a baseline and now. */
export interface GateTrend {
  readonly gate: string;
  /** Milliseconds between the baseline and now. */
  readonly overMs: number;
  readonly failed: number;
  readonly deadLettered: number;
  /** Backlog at the baseline and now; null where either is unknown. */
  readonly backlogFrom: number | null;
  readonly backlogTo: number | null;
}

interface Sample {
  readonly at: number;
  readonly gates: ReadonlyMap<string, GateNumbers>;
}

/**
 * Remembers what the status reported, so "failing" and "growing" can mean "recently" rather than
 * "ever since the process started": each observation is compared with the newest one at least
 * `windowMs` old (or the oldest kept, until one is that old). It starts with every count at zero,
 * which is what the process's counters were when it was created.
 */
export class GateTrends {
  private readonly samples: Sample[];

  constructor(
    startedAt: number,
    private readonly windowMs = 5 * 60_000,
  ) {
    this.samples = [{ at: startedAt, gates: new Map() }];
  }

  observe(at: number, gates: readonly GateNumbers[]): GateTrend[] {
    // Drop samples made redundant by a newer one that is old enough to be the baseline.
    while (this.samples.length > 1 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
    const baseline = this.samples[0]!;
    this.samples.push({ at, gates: new Map(gates.map((g) => [g.name, g])) });
    return gates.map((now) => {
      const then = baseline.gates.get(now.name);
      return {
        gate: now.name,
        overMs: at - baseline.at,
        // Counters only grow; a smaller value than before means they were reset: count from zero.
        failed: increase(then?.failed ?? 0, now.failed),
        deadLettered: increase(then?.dead_lettered ?? 0, now.dead_lettered),
        backlogFrom: then === undefined ? null : then.backlog,
        backlogTo: now.backlog,
      };
    });
  }
}

function increase(from: number, to: number): number {
  return to >= from ? to - from : to;
}
