/** Reading the fields of Redis hashes and stream entries, shared by gates, runtime and CLI. */

/** A field's value as a finite number; undefined when missing, blank or not a number. */
export function parseNumber(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A stream entry's flat [field, value, field, value, …] list as a record. It has no prototype,
 * so a field named __proto__ is data like any other.
 */
export function fieldsToRecord(list: readonly string[]): Record<string, string> {
  const record = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i]!] = list[i + 1]!;
  return record;
}

/** Orders entry ids of one stream (milliseconds, then sequence), exactly, whatever their size. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(idPart);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(idPart);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

function idPart(part: string): bigint {
  return /^\d+$/.test(part) ? BigInt(part) : 0n;
}
