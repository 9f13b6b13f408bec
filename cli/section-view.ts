import type { SectionDescription } from '../runtime/host/http/status.js';
import type { AnySectionView } from '../runtime/contract/status-views.js';
import { formatUtc } from '../runtime/host/http/status-time.js';
import { table } from './output.js';
import { renderStatus } from './status-view.js';

/**
 * A gate's status section for a terminal, drawn from the views the gate declares (GET
 * /status/sections), as the page draws it: `fields` as label / value lines, `table` as a table,
 * `series` as one line saying its span and last point. Without a description (an older server),
 * the value is listed as the JSON has it.
 */
export function renderSection(key: string, value: unknown, description: SectionDescription | undefined): string {
  const title = description?.title ?? heading(key);
  if (value === null || value === undefined) return `${title}\n  could not be read`;
  if (description === undefined || description.views.length === 0) return `${title}\n${renderStatus(value)}`;
  return [title, ...description.views.map((view) => renderView(value, view))].join('\n');
}

function renderView(value: unknown, view: AnySectionView): string {
  const record = (value ?? {}) as Record<string, unknown>;
  switch (view.shape) {
    case 'fields': {
      const width = Math.max(...view.fields.map((f) => f.label.length));
      return view.fields.map((f) => `${f.label.padEnd(width)}  ${formatValue(record[f.key], f)}`).join('\n');
    }
    case 'table': {
      const rows = view.rows === undefined ? value : record[view.rows];
      const list = Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      if (list.length === 0) return view.empty;
      return table(
        view.columns.map((c) => c.label.toUpperCase()),
        list.map((row) => view.columns.map((c) => formatValue(row[c.key], c))),
      );
    }
    case 'series': {
      const points = Array.isArray(record[view.points]) ? (record[view.points] as Record<string, unknown>[]) : [];
      if (points.length === 0) return `${view.label}: no points yet`;
      const last = points[points.length - 1]!;
      const time = (p: Record<string, unknown>) => formatValue(p[view.x], { key: view.x, label: '', format: 'time' });
      return `${view.label}: ${points.length} points from ${time(points[0]!)} to ${time(last)}, last ${formatValue(last[view.y], { key: view.y, label: '' })}`;
    }
    default:
      // Switches and sentences: drawn by the shapes' renderer that replaces this one (next commit).
      return '';
  }
}

function formatValue(value: unknown, field: { key: string; label: string; format?: string; digits?: number }): string {
  if (value === null || value === undefined) return '-';
  switch (field.format) {
    case 'time':
      return typeof value === 'number' ? formatUtc(value) : String(value);
    case 'number':
      return typeof value === 'number' ? value.toFixed(field.digits ?? 4) : String(value);
    case 'usd':
      return typeof value === 'number' ? value.toFixed(2) : String(value);
    case 'flag':
      return value ? 'yes' : 'no';
    default:
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/** "spread_guard" → "Spread guard". */
function heading(key: string): string {
  const words = key.replace(/[_-]+/g, ' ');
  return `${words[0]!.toUpperCase()}${words.slice(1)}`;
}
