import type { RedisFault } from '../../../runtime/host/index.js';
import { formatUtc } from './status-time.js';

/** A section of the status that could not be read, and why. */
export interface SectionFailure {
  readonly section: string;
  readonly message: string;
}

/** Redis cannot serve reads, so the status's Redis sections failed with it. */
export interface RedisOutage {
  readonly cause: 'unreachable' | 'stalled';
  /** The health probe's description (e.g. "connection reconnecting"). */
  readonly detail: string;
  /** When the outage began (ms since the epoch), from the runtime's health tracking. */
  readonly since: number;
  /** The sections it left unread. */
  readonly sections: readonly string[];
  /** The Redis that is out, as configured (no password). */
  readonly address?: string;
}

/** Sections that failed with one and the same message. */
export interface UnreadSections {
  readonly sections: readonly string[];
  readonly message: string;
}

export interface CollapsedFailures {
  readonly redis: RedisOutage | null;
  /** Failures Redis's outage does not explain, grouped by message. */
  readonly unread: readonly UnreadSections[];
  /** One line per cause, for people: the Redis outage first. */
  readonly lines: readonly string[];
}

/** Sections computed in this process, which a Redis outage cannot explain. */
const LOCAL_SECTIONS: ReadonlySet<string> = new Set(['metrics']);

/**
 * When Redis is down every section that reads it fails on its own, each with whatever ioredis
 * said at that moment ("Connection is closed.", a timeout, the retry limit). One cause deserves
 * one line: while the runtime's health probe says Redis is unreachable or stalled, every Redis
 * section's failure is put down to that, with the time the outage began. The rest are grouped by
 * message, so a problem shared by several sections is still said once.
 */
export function collapseFailures(
  failures: readonly SectionFailure[],
  fault: RedisFault | undefined,
  /** The Redis's address as configured (no password), said with the outage. */
  address?: string,
): CollapsedFailures {
  const readsFail = fault !== undefined && (fault.cause === 'unreachable' || fault.cause === 'stalled');
  const outageSections = readsFail ? failures.filter((f) => !LOCAL_SECTIONS.has(f.section)).map((f) => f.section) : [];
  const redis: RedisOutage | null =
    readsFail && outageSections.length > 0 && (fault.cause === 'unreachable' || fault.cause === 'stalled')
      ? { cause: fault.cause, detail: fault.detail, since: fault.since, sections: outageSections, ...(address ? { address } : {}) }
      : null;
  const byMessage = new Map<string, string[]>();
  for (const failure of failures) {
    if (redis !== null && redis.sections.includes(failure.section)) continue;
    const sections = byMessage.get(failure.message) ?? [];
    sections.push(failure.section);
    byMessage.set(failure.message, sections);
  }
  const unread = [...byMessage].map(([message, sections]) => ({ sections, message }));
  return {
    redis,
    unread,
    lines: [...(redis ? [describeOutage(redis, formatUtc)] : []), ...unread.map((u) => `${u.sections.join(', ')}: ${u.message}`)],
  };
}

/** "redis unreachable since 2026-11-22 13:04:05 UTC (connection reconnecting): 9 sections could not be read". */
export function describeOutage(outage: RedisOutage, formatTime: (ms: number) => string): string {
  const n = outage.sections.length;
  return `redis ${outage.cause}${outage.address ? ` at ${outage.address}` : ''} since ${formatTime(outage.since)} (${outage.detail}): ${n} ${n === 1 ? 'section' : 'sections'} could not be read`;
}
