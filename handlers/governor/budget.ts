import { readBudgetViolationEntry } from '../../schemas/budget.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { epochMs } from '../../domain/epoch.js';
import { parseNumber } from './numbers.js';

/** quantum:portfolio:budget:{symbol} as the P2.8 budget engine writes it. */
export interface Budget {
  readonly budgetUsd: number;
  /** When the engine computed it; undefined when the hash carries no usable timestamp. */
  readonly updatedAtMs: number | undefined;
  /** The engine's P28_MODE as it wrote it (`mode`, "shadow" when absent, as the original reads it). */
  readonly mode: string;
}

export function parseBudget(budgetRaw: string | null, timestampRaw: string | null, modeRaw: string | null = null): Budget | undefined {
  const budgetUsd = parseNumber(budgetRaw);
  if (budgetUsd === undefined) return undefined;
  const ts = parseNumber(timestampRaw);
  return { budgetUsd, updatedAtMs: ts === undefined ? undefined : epochMs(ts), mode: modeRaw ?? 'shadow' };
}

/**
 * A budget the gate may use: present, fresh, and stamped no further ahead than `maxSkewMs` (a
 * budget stamped ahead names no moment it was true: no budget). Missing or stale budgets fail open.
 */
export function freshBudget(
  budget: Budget | undefined,
  now: number,
  maxAgeSec: number,
  maxSkewMs = Number.POSITIVE_INFINITY,
): Budget | undefined {
  if (!budget || budget.updatedAtMs === undefined) return undefined;
  const ageMs = now - budget.updatedAtMs;
  return ageMs > maxAgeSec * 1000 || -ageMs > maxSkewMs ? undefined : budget;
}

/**
 * True when quantum:stream:budget.violation holds a violation for `symbol` younger than the
 * window. Entries carry one field, `json`, with symbol and timestamp (seconds); the entry id's
 * time stands in when the timestamp is missing. (The original looked the field up as bytes on
 * a string client, so it never matched: this is the fix.)
 */
export function hasRecentViolation(violations: readonly Violation[], symbol: string, now: number, windowSec: number): boolean {
  const cutoff = now - windowSec * 1000;
  for (const violation of violations) if (violation.symbol === symbol && violation.at > cutoff) return true;
  return false;
}

/** A budget.violation entry as the window reads it: its symbol and when it was written (ms). */
export interface Violation {
  readonly symbol: string;
  readonly at: number;
}

/**
 * The window's entries, parsed; entries that hold no readable violation, or no finite time, are
 * left out.
 */
export function readViolations(entries: readonly [id: string, fields: string[]][]): Violation[] {
  const violations: Violation[] = [];
  for (const [id, fields] of entries) {
    const record = readBudgetViolationEntry(fieldsToRecord(fields));
    // A symbol that is no text matches no plan's.
    if (record === undefined || typeof record.symbol !== 'string') continue;
    const ts =
      typeof record.timestamp === 'number'
        ? record.timestamp
        : parseNumber(typeof record.timestamp === 'string' ? record.timestamp : undefined);
    // A timestamp in no known unit: the entry's own time says when the violation was written.
    const at = (ts === undefined ? undefined : epochMs(ts)) ?? Number.parseInt(id, 10);
    if (Number.isFinite(at)) violations.push({ symbol: record.symbol, at });
  }
  return violations;
}
