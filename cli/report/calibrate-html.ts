import { highest, lowest } from '../../domain/extent.js';
import type { WhatIfPnl } from './calibrate-common.js';
import type { CalibrateReport } from './calibrate.js';

/**
 * `report calibrate --html`: the report as one self-contained page, with a chart per alternative
 * (each threshold pair, each proposal, each cap setting) for whoever would rather look than read:
 * the running sum of the PnL of the decisions it changes, one line per horizon with priced
 * samples, against zero. Inline SVG, no script, no outside resource.
 */

const WIDTH = 640;
const HEIGHT = 180;
const PAD = { left: 70, right: 16, top: 14, bottom: 26 };
const COLOURS = ['#1f6feb', '#d9480f', '#2f9e44', '#9c36b5', '#495057'];

export const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const usd = (v: number | null) => (v === null ? '—' : `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(2)}`);

/** The running sum of a horizon's points, starting at 0 before the first decision. */
function runningSum(points: WhatIfPnl['points']): [number, number][] {
  let sum = 0;
  return points.map(([at, pnl]) => [at, (sum = Math.round((sum + pnl) * 100) / 100)]);
}

/** One alternative's chart: a step line per priced horizon, the zero line, its range and a legend. */
export function alternativeChart(id: string, title: string, pnl: readonly WhatIfPnl[]): string {
  const lines = pnl.filter((p) => p.points.length > 0).map((p) => ({ p, sums: runningSum(p.points) }));
  if (lines.length === 0)
    return `<figure id="${escape(id)}"><figcaption>${escape(title)}</figcaption><p class="empty">no PnL known: nothing priced at any horizon</p></figure>`;
  const times = lines.flatMap((l) => l.sums.map(([at]) => at));
  const values = [0, ...lines.flatMap((l) => l.sums.map(([, v]) => v))];
  const [t0, t1] = [lowest(times), highest(times)];
  const [v0, v1] = [lowest(values), highest(values)];
  const x = (t: number) => PAD.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (v1 === v0 ? 0.5 : (v1 - v) / (v1 - v0)) * (HEIGHT - PAD.top - PAD.bottom);
  const r = (n: number) => n.toFixed(1);
  const paths = lines.map(({ p, sums }, i) => {
    // A step line: the sum holds until the next decision.
    let d = `M${r(x(sums[0]![0]))},${r(y(0))}`;
    for (const [at, v] of sums) d += ` H${r(x(at))} V${r(y(v))}`;
    d += ` H${r(WIDTH - PAD.right)}`;
    return `<path class="pnl" data-horizon="${escape(p.horizon)}" d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5"/>`;
  });
  const legend = lines
    .map(
      ({ p }, i) =>
        `<li><span style="color:${COLOURS[i % COLOURS.length]}">■</span> ${escape(p.horizon)}: ${p.priced} priced, total ${usd(p.totalPnlUsd)}` +
        `${p.interval90 ? `, <span class="interval">90 % [${usd(p.interval90[0])}, ${usd(p.interval90[1])}] over ${p.blocks} blocks of time</span>` : ''}` +
        `${p.missingPrice + p.noSample > 0 ? `; ${p.missingPrice} no price, ${p.noSample} no sample` : ''}` +
        p.warnings.map((w) => `<br><span class="warning">⚠ ${escape(w)}</span>`).join('') +
        '</li>',
    )
    .join('');
  const label = `${title}: running sum of the PnL of the decisions it changes, by horizon`;
  return (
    `<figure id="${escape(id)}"><figcaption>${escape(title)}</figcaption>` +
    `<svg role="img" aria-label="${escape(label)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}">` +
    `<line class="zero" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${r(y(0))}" y2="${r(y(0))}" stroke="#adb5bd" stroke-dasharray="4 3"/>` +
    `<text x="${PAD.left - 6}" y="${r(y(v1) + 4)}" text-anchor="end" font-size="11">${escape(usd(v1))}</text>` +
    `<text x="${PAD.left - 6}" y="${r(y(v0) + 4)}" text-anchor="end" font-size="11">${escape(usd(v0))}</text>` +
    `<text x="${PAD.left}" y="${HEIGHT - 6}" font-size="11">${escape(new Date(t0).toISOString())}</text>` +
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 6}" text-anchor="end" font-size="11">${escape(new Date(t1).toISOString())}</text>` +
    paths.join('') +
    `</svg><ul class="legend">${legend}</ul></figure>`
  );
}

/** The page: the text report, then the charts of every alternative. */
export function formatCalibrateHtml(report: CalibrateReport, text: string): string {
  const charts: string[] = [];
  report.heatWhatIf.forEach((w, i) =>
    charts.push(
      alternativeChart(
        `heat-${i}`,
        `HEAT_MIN ${w.heatMin} HEAT_MAX ${w.heatMax}${w.configured ? ' (configured)' : ''}: ${w.downgraded} of ${w.fullCloses} full closes downgraded`,
        w.pnl,
      ),
    ),
  );
  report.heatProposals.forEach(({ proposal, whatIf: w }, i) =>
    charts.push(
      alternativeChart(
        `proposal-${i}`,
        `Proposed HEAT_MIN ${w.heatMin} (halves ${proposal.spread.min.join('–')}) HEAT_MAX ${w.heatMax} (halves ${proposal.spread.max.join('–')}) (${proposal.rule})`,
        w.pnl,
      ),
    ),
  );
  report.governorWhatIf.forEach((g, i) => {
    if (g.newlyPermitted.length > 0)
      charts.push(
        alternativeChart(`caps-${i}-permitted`, `Caps ${g.caps}: ${g.newlyPermitted.length} opens newly permitted`, g.pnlNewlyPermitted),
      );
    if (g.newlyBlocked.length > 0)
      charts.push(alternativeChart(`caps-${i}-blocked`, `Caps ${g.caps}: ${g.newlyBlocked.length} opens newly blocked`, g.pnlNewlyBlocked));
  });
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quantum-gates report calibrate</title>' +
    '<style>body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:60rem}pre{font-size:12px;overflow-x:auto}' +
    'figure{margin:1.5rem 0}figcaption{font-weight:600}.legend{list-style:none;padding:0;font-size:13px}.legend li{margin:.2rem 0}.warning{color:#9c3d00}</style></head><body>' +
    '<h1>Calibration</h1>' +
    `<pre>${escape(text)}</pre>` +
    '<h2>Each alternative, drawn</h2><p>The running sum of the PnL of the decisions each alternative changes, against closing in full (heat) or the recorded decision (caps), one line per horizon; below zero, the alternative lost money.</p>' +
    charts.join('') +
    '</body></html>\n'
  );
}
