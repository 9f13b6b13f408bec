import { escape } from '../report/calibrate-html.js';
import type { RehearsalReport } from './rehearse.js';

/**
 * `rehearse --html`: the rehearsal as one self-contained page in the style of `report calibrate
 * --html`: the text report, a bar per gate and decision (the same, verdict changed, other fields
 * only, unanswerable), and every listed difference as a table of its fields, before and after, and
 * their class. Inline SVG, no script, no outside resource.
 */
const WIDTH = 640;
const ROW = 22;
const LABEL = 260;
const COLOURS = { same: '#2f9e44', verdict: '#d9480f', other: '#f59f00', unanswerable: '#9c36b5' } as const;
const PARTS = ['same', 'verdict', 'other', 'unanswerable'] as const;
const NAMES = { same: 'the same', verdict: 'verdict changed', other: 'other fields only', unanswerable: 'unanswerable' } as const;

function kindsChart(report: RehearsalReport): string {
  if (report.kinds.length === 0) return '<p class="empty">the tape holds no decisions to rehearse</p>';
  const most = Math.max(1, ...report.kinds.map((k) => k.same + k.differ + k.unanswerable));
  const scale = (n: number) => (n / most) * (WIDTH - LABEL - 8);
  const rows = report.kinds.map((k, i) => {
    const y = i * ROW;
    let x = LABEL;
    const bars = PARTS.map((part) => {
      const width = scale(k[part]);
      const bar = `<rect class="${part}" x="${x.toFixed(1)}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW - 6}" fill="${COLOURS[part]}"><title>${k[part]} ${NAMES[part]}</title></rect>`;
      x += width;
      return bar;
    });
    return `<text x="0" y="${y + ROW - 7}" font-size="12">${escape(`${k.gate} ${k.kind}`)}</text>${bars.join('')}`;
  });
  const height = report.kinds.length * ROW;
  return (
    `<svg role="img" aria-label="decisions per gate and kind: the same, verdict changed, other fields only, unanswerable" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}">` +
    rows.join('') +
    '</svg>' +
    `<p class="legend">${PARTS.map((p) => `<span style="color:${COLOURS[p]}">■</span> ${NAMES[p]}`).join(' ')}</p>`
  );
}

function differencesTables(report: RehearsalReport): string {
  return report.differences
    .map(
      (d) =>
        `<figure class="difference" data-gate="${escape(d.gate)}" data-entry="${escape(d.entry)}" data-class="${d.class}"><figcaption>${escape(`${d.gate} ${d.id}${d.symbol ? ` ${d.symbol}` : ''}`)} <span class="kind">(${escape(d.kind)}, entry ${escape(d.entry)}; ${NAMES[d.class]})</span></figcaption>` +
        '<table><thead><tr><th>field</th><th>committed</th><th>rehearsed</th><th>class</th></tr></thead><tbody>' +
        d.changes
          .map(
            (c) =>
              `<tr><td>${escape(c.field)}</td><td class="before">${escape(c.before ?? '(none)')}</td><td class="after">${escape(c.after ?? '(none)')}</td><td>${c.class}</td></tr>`,
          )
          .join('') +
        '</tbody></table></figure>',
    )
    .join('');
}

/** The page: the text report, then the chart of every gate's decisions and the differences, drawn. */
export function formatRehearsalHtml(report: RehearsalReport, text: string): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quantum-gates rehearse</title>' +
    '<style>body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:60rem}pre{font-size:12px;overflow-x:auto}' +
    'figure{margin:1.5rem 0}figcaption{font-weight:600}.kind{font-weight:400;color:#495057}.legend{font-size:13px}' +
    'table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #dee2e6;padding:.2rem .5rem;text-align:left;vertical-align:top;word-break:break-all}' +
    '.before{color:#9c3d00}.after{color:#1b5e20}</style></head><body>' +
    `<h1>Rehearsal of ${escape(report.release)}</h1>` +
    `<pre>${escape(text)}</pre>` +
    "<h2>Each gate's decisions, drawn</h2>" +
    kindsChart(report) +
    (report.differences.length > 0 ? `<h2>The decisions that would change (verdicts first)</h2>${differencesTables(report)}` : '') +
    '</body></html>\n'
  );
}
