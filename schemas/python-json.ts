/**
 * JSON text as the original services wrote it: Python's json.dumps (stream fields, P2.7's
 * /health) and FastAPI's JSONResponse (P2.8's HTTP API). JavaScript numbers do not say whether
 * Python held an int or a float (1348 vs 1348.0), so floats are wrapped in PyFloat.
 */
import { pyFloatStr } from './python-number.js';

export class PyFloat {
  constructor(readonly value: number) {}
}

export const pyFloat = (value: number): PyFloat => new PyFloat(value);

/** A plain number is a Python int; a Map or object keeps its insertion order (a Map also for "1"-like keys). */
export type PyJson =
  string | number | boolean | null | PyFloat | readonly PyJson[] | ReadonlyMap<string, PyJson> | { readonly [key: string]: PyJson };

interface DumpOptions {
  readonly ensureAscii: boolean;
  readonly itemSeparator: string;
  readonly keySeparator: string;
  readonly allowNan: boolean;
}

/** Python's ValueError("Out of range float values are not JSON compliant"). */
export class PyJsonNanError extends Error {}

/** json.dumps(value) with its defaults: ", " and ": ", ASCII only, NaN/Infinity allowed. */
export function pyJsonDumps(value: PyJson): string {
  return dump(value, { ensureAscii: true, itemSeparator: ', ', keySeparator: ': ', allowNan: true });
}

/** FastAPI's JSONResponse body: compact, UTF-8 as is; NaN or infinity throws (a 500 there). */
export function fastApiJson(value: PyJson): string {
  return dump(value, { ensureAscii: false, itemSeparator: ',', keySeparator: ':', allowNan: false });
}

function dump(value: PyJson, options: DumpOptions): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return dumpString(value, options.ensureAscii);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not a Python int: ${value} (wrap floats in PyFloat)`);
    return String(value);
  }
  if (value instanceof PyFloat) return dumpFloat(value.value, options.allowNan);
  const entries: [string, PyJson][] | undefined =
    value instanceof Map ? [...value.entries()] : Array.isArray(value) ? undefined : Object.entries(value);
  if (entries === undefined) return `[${(value as readonly PyJson[]).map((v) => dump(v, options)).join(options.itemSeparator)}]`;
  return `{${entries.map(([k, v]) => `${dumpString(k, options.ensureAscii)}${options.keySeparator}${dump(v, options)}`).join(options.itemSeparator)}}`;
}

function dumpFloat(x: number, allowNan: boolean): string {
  if (Number.isFinite(x)) return pyFloatStr(x);
  if (!allowNan) throw new PyJsonNanError('Out of range float values are not JSON compliant');
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

function dumpString(s: string, ensureAscii: boolean): string {
  // JSON.stringify escapes what Python escapes in both modes (quote, backslash, controls), with
  // the same short forms; ensure_ascii also escapes DEL and everything above it, per UTF-16 unit.
  const json = JSON.stringify(s);
  return ensureAscii ? json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}
