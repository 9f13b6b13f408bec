/**
 * One decision of the shadow as its decisions stream keeps it: the input entry (the same stream
 * id the incumbent decided), what the gate decided (outcome, effects and jobs, as the tape
 * carries them: JSON, no hooks) and when. The same shape as a taped decision's, so the pairing
 * compares both with the rehearsal's field rules.
 */
export interface ShadowRecord {
  readonly v: 1;
  readonly gate: string;
  /** The input's stream id. */
  readonly id: string;
  readonly producedAt: number;
  readonly raw: Readonly<Record<string, string>>;
  /** 'handled', 'fallback', 'unusable', 'duplicate' or 'dead-letter:<reason>'. */
  readonly outcome: string;
  readonly effects: readonly unknown[];
  readonly jobs: readonly unknown[];
  /** When the shadow decided it (Redis's clock, ms). */
  readonly at: number;
}

/** The one field a shadow decision entry holds. */
export const SHADOW_RECORD_FIELD = 'record';

export function encodeShadowRecord(record: ShadowRecord): string {
  return JSON.stringify(record);
}

/** A decisions-stream entry's record; undefined when it is not one (another version, or not JSON). */
export function decodeShadowRecord(fields: readonly string[]): ShadowRecord | undefined {
  const at = fields.indexOf(SHADOW_RECORD_FIELD);
  if (at < 0 || at % 2 === 1) return undefined;
  try {
    const record = JSON.parse(fields[at + 1]!) as ShadowRecord;
    return record.v === 1 && typeof record.id === 'string' && typeof record.gate === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}
