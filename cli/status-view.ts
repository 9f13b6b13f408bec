import { table } from './output.js';

/**
 * Renders the /status JSON for a terminal without knowing its exact shape: scalars as
 * `key: value`, arrays of objects as tables, nested objects as indented sections. The page and
 * the JSON can grow fields without this view falling behind or breaking.
 */
export function renderStatus(value: unknown): string {
  return section(value, 0).join('\n');
}

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** Fits on one line: a scalar or a non-empty list of scalars (an empty list reads better as "(none)"). */
function isFlat(value: unknown): boolean {
  return isScalar(value) || (Array.isArray(value) && value.length > 0 && value.every(isScalar));
}

function scalarText(value: Scalar | undefined): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e4) / 1e4);
  return String(value);
}

/** A cell: scalars as they are, small nested values compactly. */
function cellText(value: unknown): string {
  if (isScalar(value)) return scalarText(value);
  if (Array.isArray(value)) return value.every(isScalar) ? value.map(scalarText).join(',') : `[${value.length}]`;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${isScalar(v) ? scalarText(v) : '…'}`)
      .join(' ');
  }
  return String(value);
}

function section(value: unknown, depth: number): string[] {
  const indent = '  '.repeat(depth);
  if (isScalar(value)) return [`${indent}${scalarText(value)}`];
  if (Array.isArray(value)) return arrayLines(value, depth);
  const entries = Object.entries(value as Record<string, unknown>);
  const scalars = entries.filter(([, v]) => isFlat(v));
  const nested = entries.filter(([, v]) => !isFlat(v));
  const width = Math.max(0, ...scalars.map(([k]) => k.length));
  const lines = scalars.map(([k, v]) => `${indent}${k.padEnd(width)}  ${cellText(v)}`);
  for (const [key, child] of nested) {
    if (lines.length > 0) lines.push('');
    lines.push(`${indent}${heading(key)}`);
    lines.push(...section(child, depth + 1));
  }
  return lines;
}

function arrayLines(items: readonly unknown[], depth: number): string[] {
  const indent = '  '.repeat(depth);
  if (items.length === 0) return [`${indent}(none)`];
  if (!items.every((item) => item && typeof item === 'object' && !Array.isArray(item)))
    return items.map((item) => `${indent}${cellText(item)}`);
  const columns = [...new Set(items.flatMap((item) => Object.keys(item as object)))];
  const rows = items.map((item) => columns.map((c) => cellText((item as Record<string, unknown>)[c])));
  return table(
    columns.map((c) => c.toUpperCase()),
    rows,
  )
    .split('\n')
    .map((line) => `${indent}${line}`);
}

function heading(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
  return `${words[0]!.toUpperCase()}${words.slice(1)}`;
}
