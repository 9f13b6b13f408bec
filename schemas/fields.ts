/** Reading the fields of Redis hashes and stream entries, shared by gates, runtime and CLI. */
import { dataNumbers, parseDecimal } from '../domain/number.js';

/** A field's value as a number, by the one rule of domain/number.ts; undefined when it holds none. */
export function parseNumber(value: string | null | undefined): number | undefined {
  return parseDecimal(value, dataNumbers);
}

/**
 * A stream entry's flat [field, value, field, value, …] list as a record without a prototype, so
 * a field named __proto__, toString or constructor is data like any other.
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

/** The stream id just before `id` ("ms-seq"), for starting a consumer group so that `id` is delivered. */
export function idBefore(id: string): string {
  const [msText, seqText = '0'] = id.split('-');
  const ms = BigInt(msText ?? '0');
  const seq = BigInt(seqText);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`;
  return '0';
}
