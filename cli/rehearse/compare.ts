import type { TapeRecord } from '../../app/cli-door.js';
import type { Rehearsal } from './rehearse-record.js';

/**
 * What a change is to the operator: `verdict`, what the gate decided (permit or block, its reason,
 * the action or calibrated action, the heat bucket, the outcome, a write made or not made);
 * `other`, how the decision is told or kept (settings its record echoes, timestamps, TTLs,
 * scheduled jobs).
 */
export type ChangeClass = 'verdict' | 'other';

/** One field that came out otherwise: `field` begins with what wrote it (e.g. "emit quantum:stream:apply.plan"). */
export interface FieldChange {
  readonly field: string;
  readonly before: string | undefined;
  readonly after: string | undefined;
  readonly class: ChangeClass;
}

/**
 * The fields of the gates' entries and hashes that carry their verdict, every field the pipeline
 * reads to act: the governor's event (permit/block) and reason, the plan's action and decision,
 * the heat gate's calibrated action (action, calibrated_action, out_action, harvest_action) and the
 * kernel's before it (original_action), its bucket and level, its downgrade and its reason. Every other field of an entry or hash is `other`: an echo of a setting (debug_json's
 * thresholds, apply_mode), a figure the decision was made on, a time.
 */
export const VERDICT_FIELDS: ReadonlySet<string> = new Set([
  'event',
  'reason',
  'decision',
  'action',
  'calibrated_action',
  'out_action',
  'harvest_action',
  'heat_bucket',
  'heat_level',
  'heat_action',
  // The kernel's action before calibration: the pipeline reads it (the heat gate's outputs, test/pipeline/eras.test.ts).
  'original_action',
  'downgrade_reason',
  'status',
]);

type EffectRecord = Readonly<Record<string, unknown>> & { readonly op?: string };

/**
 * An effect's name within its decision: what it does and where, numbered when it repeats. Every
 * effect is compared, the runtime's own among them: a job's done key (its TTL is how long a job
 * is remembered as done, JOB_DONE_TTL_SEC) is read by the gates before they run that job again.
 */
function effectsByName(effects: readonly unknown[]): Map<string, EffectRecord> {
  const named = new Map<string, EffectRecord>();
  const seen = new Map<string, number>();
  for (const effect of effects as EffectRecord[]) {
    const where = String(effect.stream ?? effect.key ?? '');
    const base = `${effect.op} ${where}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    named.set(n === 1 ? base : `${base} #${n}`, effect);
  }
  return named;
}

/**
 * Random ids the code makes (the heat gate's trace_id for a proposal that came without one:
 * randomUUID) are no input the tape can hold: set aside as "a random id" on both sides. Only
 * those: an id the input or a taped reply carried is compared as written, so a release that
 * replaces the producer's trace id with a random one shows as a difference.
 */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/gi;

/** The v4 UUIDs a decision was given: in its input entry, its data, and the replies it (and its batch state) read. */
function carriedIds(record: TapeRecord): ReadonlySet<string> {
  const given = JSON.stringify([record.raw, record.data ?? null, record.reads.calls, record.state?.calls ?? []]);
  return new Set([...given.matchAll(UUID)].map((m) => m[0].toLowerCase()));
}

const comparable = (value: string, carried: ReadonlySet<string>) =>
  value.replace(UUID, (id) => (carried.has(id.toLowerCase()) ? id : '<random id>'));

/** An effect's comparable values, flat: a hash's or an entry's fields by name, the rest by attribute. */
function flatten(effect: EffectRecord, carried: ReadonlySet<string>): Map<string, string> {
  const flat = new Map<string, string>();
  for (const [name, value] of Object.entries(effect)) {
    if (name === 'op' || name === 'stream' || name === 'key') continue;
    if (name === 'fields' && typeof value === 'object' && value !== null)
      for (const [field, v] of Object.entries(value)) flat.set(field, comparable(String(v), carried));
    else flat.set(name, comparable(typeof value === 'string' ? value : JSON.stringify(value), carried));
  }
  return flat;
}

/** What the rehearsed code decided otherwise than the tape says was committed, field by field; empty when the same. */
export function changesOf(record: TapeRecord, rehearsed: Exclude<Rehearsal, { unanswerable: string }>): FieldChange[] {
  const changes: FieldChange[] = [];
  if (record.outcome !== rehearsed.outcome)
    changes.push({ field: 'outcome', before: record.outcome, after: rehearsed.outcome, class: 'verdict' });
  const carried = carriedIds(record);
  const before = effectsByName(record.effects);
  const after = effectsByName(rehearsed.effects);
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(name);
    const is = after.get(name);
    if (!was || !is) {
      // A write made or no longer made (a permit's keys, a violation's entry) is what the gate did.
      changes.push({ field: name, before: was ? 'written' : undefined, after: is ? 'written' : undefined, class: 'verdict' });
      continue;
    }
    const wasFlat = flatten(was, carried);
    const isFlat = flatten(is, carried);
    // An entry's or hash's fields by name; the effect's own attributes (ttlSec, maxLen, value) are other.
    const fieldsOf = new Set([...Object.keys((was.fields ?? {}) as object), ...Object.keys((is.fields ?? {}) as object)]);
    for (const field of new Set([...wasFlat.keys(), ...isFlat.keys()]))
      if (wasFlat.get(field) !== isFlat.get(field))
        changes.push({
          field: `${name} ${field}`,
          before: wasFlat.get(field),
          after: isFlat.get(field),
          class: fieldsOf.has(field) && VERDICT_FIELDS.has(field) ? 'verdict' : 'other',
        });
  }
  const jobsBefore = JSON.stringify(record.jobs);
  const jobsAfter = JSON.stringify(rehearsed.jobs);
  if (jobsBefore !== jobsAfter) changes.push({ field: 'scheduled jobs', before: jobsBefore, after: jobsAfter, class: 'other' });
  // The verdict's fields first: an operator reads what the gate decided otherwise before how it is told.
  return [...changes.filter((c) => c.class === 'verdict'), ...changes.filter((c) => c.class === 'other')];
}

/** A decision's class: `verdict` when any of its changes is one, else `other`. */
export const classOf = (changes: readonly FieldChange[]): ChangeClass => (changes.some((c) => c.class === 'verdict') ? 'verdict' : 'other');

/** Fields an entry or hash of a gate's decision names its kind in, in the order looked for. */
const KIND_FIELDS = ['event', 'calibrated_action', 'decision', 'action', 'status'];

/** The decision's kind, as the tape says it was committed: its first verdict-like field emitted (else written), else its outcome. */
export function decisionKind(record: TapeRecord): string {
  const effects = record.effects as EffectRecord[];
  for (const effect of [...effects.filter((e) => e.op === 'emit'), ...effects.filter((e) => e.op !== 'emit')]) {
    const fields = effect.fields as Record<string, string> | undefined;
    if (!fields) continue;
    for (const name of KIND_FIELDS) if (fields[name]) return `${name}=${fields[name]}`;
  }
  return record.outcome;
}

/** How an operator finds the decision: the plan or proposal it is about, and its symbol. */
export function decisionLabel(record: TapeRecord): { readonly id: string; readonly symbol: string | undefined } {
  const raw = record.raw;
  return { id: raw.plan_id ?? raw.proposal_id ?? raw.id ?? record.id, symbol: raw.symbol };
}
