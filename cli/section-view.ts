import type { AnySectionView, BadgeCase, ValueFormat } from '../schemas/status/views.js';
import { type SectionDescription, formatUtc } from '../app/cli-door.js';
import { table, truncate } from './output.js';
import { renderStatus } from './status-view.js';

/**
 * A gate's status section for a terminal, drawn from the views the gate declares (GET
 * /status/sections) as the page draws them, knowing no gate: `fields` as label / value lines,
 * `table` as a table, `series` as one line saying its span and last point, `sentence` as its
 * line, `switch` as its state. Without a description (an older server), the value is listed as
 * the JSON has it.
 */

type Row = Readonly<Record<string, unknown>>;
type AnyField = Extract<AnySectionView, { shape: 'fields' }>['fields'][number];
type SwitchView = Extract<AnySectionView, { shape: 'switch' }>;
type SentenceView = Extract<AnySectionView, { shape: 'sentence' }>;

/** The views of a section the terminal draws. */
export function terminalViews(description: SectionDescription): AnySectionView[] {
  return description.views.filter((v) => v.only !== 'page');
}

/** A section with a title and its views, one after another. */
export function renderSection(key: string, value: unknown, description: SectionDescription | undefined): string {
  const title = description?.shortTitle ?? description?.title ?? heading(key);
  if (value === null || value === undefined) return `${title}\n  could not be read`;
  const views = description === undefined ? [] : terminalViews(description);
  if (views.length === 0) return `${title}\n${renderStatus(value)}`;
  return [title, ...views.map((view) => renderView(value, view))].join('\n');
}

export function renderView(value: unknown, view: AnySectionView): string {
  const record = asRow(value);
  switch (view.shape) {
    case 'fields': {
      const fields = view.fields.filter((f) => f.terminal !== false);
      const width = Math.max(...fields.map((f) => f.label.length));
      return fields.map((f) => `${f.label.padEnd(width)}  ${formatField(record, f)}`).join('\n');
    }
    case 'table': {
      const rows = view.rows === undefined ? value : record[view.rows];
      const list = (Array.isArray(rows) ? rows : []).map(asRow).slice(0, view.terminalRows);
      if (list.length === 0) return view.empty;
      const columns = view.columns.filter((c) => c.terminal !== false);
      return table(
        columns.map((c) => (c.terminal ? c.terminal.label : undefined) ?? c.label.toUpperCase()),
        list.map((row) => columns.map((c) => formatField(row, c))),
      );
    }
    case 'series': {
      const points = (Array.isArray(record[view.points]) ? (record[view.points] as unknown[]) : []).map(asRow);
      if (points.length === 0) return `${view.label}: ${view.empty ?? 'no points yet'}`;
      const first = points[0]!;
      const last = points[points.length - 1]!;
      const x = (p: Row) => formatValue(p[view.x], view.xFormat === 'number' ? 'number' : 'time', 4);
      const y = formatValue(last[view.y], view.yFormat ?? 'number', view.yDigits ?? 4);
      return `${view.label}: ${points.length} points from ${x(first)} to ${x(last)}, last ${y}`;
    }
    case 'sentence':
      return renderSentence(record, view);
    case 'switch':
      return `${view.terminal} ${renderSwitch(value, view)}`;
  }
}

/** A switch's state in words: "ON: every plan is blocked", "unknown" when it could not be read. */
export function renderSwitch(value: unknown, view: SwitchView): string {
  if (value === null || value === undefined) return 'unknown';
  const record = asRow(value);
  const state = view.states.find((s) => holds(record, s.when));
  if (state === undefined) return 'unknown';
  const note = state.note === undefined ? undefined : record[state.note];
  const said =
    note === null || note === undefined || note === '' ? '' : ` (${state.noteLabel ? `${state.noteLabel} "${text(note)}"` : text(note)})`;
  return `${state.terminal ?? state.text ?? ''}${said}`;
}

export function renderSentence(record: Row, view: SentenceView): string {
  const instead = view.unless?.find((u) => holds(record, u.when));
  if (instead) return instead.say;
  return view.parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const value = record[part.key];
      if (value === null || value === undefined || (part.skipZero && value === 0)) return missingText(record, part) ?? '';
      return `${part.before ?? ''}${formatField(record, part)}${part.after ?? ''}`;
    })
    .join('');
}

/** A field of a row as the terminal writes it. */
function formatField(row: Row, field: Omit<AnyField, 'label'>): string {
  const value = row[field.key];
  const terminal = field.terminal || {};
  if (field.badge) {
    if (value === null || value === undefined) return missingText(row, field) ?? '-';
    return badgeText(row, value, field.badge);
  }
  if (value === null || value === undefined) return missingText(row, field) ?? '-';
  if (field.bands) return bandsText(value, field.bands.edges, field.bands.names, '<=');
  const written = formatValue(value, terminal.format ?? field.format ?? 'text', terminal.digits ?? field.digits ?? 4);
  return terminal.width === undefined ? written : truncate(written, terminal.width);
}

/** What a null field says: the text of its `missingFrom` field where that has one, else its `missing`. */
function missingText(row: Row, field: Pick<AnyField, 'missing' | 'missingFrom'>): string | undefined {
  const from = field.missingFrom === undefined ? undefined : row[field.missingFrom];
  return from === null || from === undefined || from === '' ? field.missing : text(from);
}

function badgeText(row: Row, value: unknown, cases: readonly BadgeCase<Row>[]): string {
  const found = cases.find((c) => holds(row, c.when));
  return found?.terminal ?? text(value);
}

/** "COLD < 0.25 <= WARM < 0.65 <= HOT": the names between the edges of an object such as {min, max}. */
export function bandsText(value: unknown, edges: readonly string[], names: readonly string[], atOrAbove: string): string {
  const record = asRow(value);
  return names.map((name, i) => (i < edges.length ? `${name} < ${text(record[edges[i]!])} ${atOrAbove} ` : name)).join('');
}

/** Whether every field named in `when` equals the row's (no `when`: always). */
export function holds(row: Row, when: Readonly<Record<string, unknown>> | undefined): boolean {
  return when === undefined || Object.entries(when).every(([key, expected]) => (row[key] ?? null) === expected);
}

function formatValue(value: unknown, format: ValueFormat, digits: number): string {
  if (value === null || value === undefined) return '-';
  switch (format) {
    case 'time':
      return typeof value === 'number' ? formatUtc(value) : text(value);
    case 'number':
      // A whole number as it is; a fraction to its digits.
      return typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(digits)) : text(value);
    case 'usd':
      return typeof value === 'number' ? value.toFixed(2) : text(value);
    case 'dollars':
      return typeof value === 'number' ? `${value < 0 ? '-' : ''}$${Math.round(Math.abs(value))}` : text(value);
    case 'flag':
      return value ? 'yes' : 'no';
    default:
      return text(value);
  }
}

function text(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function asRow(value: unknown): Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Row) : {};
}

/** "spread_guard" → "Spread guard". */
function heading(key: string): string {
  const words = key.replace(/[_-]+/g, ' ');
  return `${words[0]!.toUpperCase()}${words.slice(1)}`;
}
