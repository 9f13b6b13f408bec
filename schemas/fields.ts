/** Reading the fields of Redis hashes and stream entries, shared by gates, runtime and CLI. */
import { dataNumbers, parseDecimal } from '../domain/number.js';

/** A field's value as a number, by the one rule of domain/number.ts; undefined when it holds none. */
export function parseNumber(value: string | null | undefined): number | undefined {
  return parseDecimal(value, dataNumbers);
}

/**
 * The prototype of records built from untrusted field names: empty and frozen, so a field named
 * __proto__, toString or constructor is data like any other (no Object.prototype in the chain),
 * while the record stays a fast-mode object. Object.create(null) records are dictionary-mode in
 * V8, which cost every message ~0.4 µs more to build and read.
 */
const NO_INHERITED_FIELDS: object = Object.freeze(Object.create(null));

/** A stream entry's flat [field, value, field, value, …] list as a record (see NO_INHERITED_FIELDS). */
export function fieldsToRecord(list: readonly string[]): Record<string, string> {
  const record = Object.create(NO_INHERITED_FIELDS) as Record<string, string>;
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i]!] = list[i + 1]!;
  return record;
}

/** An id as Redis writes it: decimal parts without leading zeros. */
const CANONICAL_ID = /^(?:0|[1-9]\d*)-(?:0|[1-9]\d*)$/;

/** Orders entry ids of one stream (milliseconds, then sequence), exactly, whatever their size. */
export function compareStreamIds(a: string, b: string): number {
  // The commit compares every entry of a batch: ids as Redis writes them are ordered by their
  // parts' lengths, then their digits, with no number built. Anything else takes the exact path.
  if (CANONICAL_ID.test(a) && CANONICAL_ID.test(b)) {
    const aDash = a.indexOf('-');
    const bDash = b.indexOf('-');
    if (aDash !== bDash) return aDash < bDash ? -1 : 1;
    const aSeqLength = a.length - aDash;
    const bSeqLength = b.length - bDash;
    for (let i = 0; i < aDash; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) < b.charCodeAt(i) ? -1 : 1;
    if (aSeqLength !== bSeqLength) return aSeqLength < bSeqLength ? -1 : 1;
    return a === b ? 0 : a < b ? -1 : 1;
  }
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
