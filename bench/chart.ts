/** Renders the bench results as one self-contained SVG: throughput bars and latency vs load. */

export interface ChartInput {
  readonly throughput: readonly { label: string; perSecond: number }[];
  readonly latency: readonly { offered: number; p50: number; p90: number; p99: number; achieved: number }[];
  readonly caption: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderChart(input: ChartInput): string {
  const width = 900;
  const height = 380;
  const panel = { w: 400, h: 250, top: 72 };
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="20" y="24" font-size="15" font-weight="bold">quantum-gates benchmark</text>`);
  parts.push(`<text x="20" y="42" fill="#555">${esc(input.caption)}</text>`);

  // Left: throughput bars.
  const left = 60;
  const maxT = Math.max(...input.throughput.map((t) => t.perSecond), 1);
  const barW = panel.w / Math.max(input.throughput.length, 1) - 20;
  parts.push(`<text x="${left}" y="${panel.top - 6}" font-weight="bold">Heat-gate throughput (proposals/s, backlog drain)</text>`);
  parts.push(`<line x1="${left}" y1="${panel.top + panel.h}" x2="${left + panel.w}" y2="${panel.top + panel.h}" stroke="#333"/>`);
  input.throughput.forEach((t, i) => {
    const h = (t.perSecond / maxT) * (panel.h - 20);
    const x = left + 10 + i * (barW + 20);
    const y = panel.top + panel.h - h;
    parts.push(`<rect x="${x}" y="${y}" width="${barW}" height="${h}" fill="${i % 2 ? '#9aa5b1' : '#2f6db5'}"/>`);
    parts.push(`<text x="${x + barW / 2}" y="${y - 4}" text-anchor="middle">${Math.round(t.perSecond).toLocaleString('en-US')}</text>`);
    parts.push(`<text x="${x + barW / 2}" y="${panel.top + panel.h + 14}" text-anchor="middle" font-size="10">${esc(t.label)}</text>`);
  });

  // Right: latency percentiles against offered load (log-ish x by index).
  const rx = 520;
  const maxL = Math.max(...input.latency.map((l) => l.p99), 1);
  parts.push(`<text x="${rx}" y="${panel.top - 6}" font-weight="bold">End-to-end latency (ms) vs offered load (msg/s)</text>`);
  parts.push(`<line x1="${rx}" y1="${panel.top + panel.h}" x2="${rx + 340}" y2="${panel.top + panel.h}" stroke="#333"/>`);
  parts.push(`<line x1="${rx}" y1="${panel.top}" x2="${rx}" y2="${panel.top + panel.h}" stroke="#333"/>`);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const y = panel.top + panel.h - tick * panel.h;
    parts.push(`<text x="${rx - 6}" y="${y + 4}" text-anchor="end" font-size="10">${(tick * maxL).toFixed(2)}</text>`);
  }
  const xOf = (i: number) => rx + 20 + (i * 300) / Math.max(input.latency.length - 1, 1);
  const yOf = (v: number) => panel.top + panel.h - (v / maxL) * panel.h;
  const series: [keyof ChartInput['latency'][number], string][] = [
    ['p50', '#2f6db5'],
    ['p90', '#e08a1e'],
    ['p99', '#c23b3b'],
  ];
  series.forEach(([key, color], s) => {
    const points = input.latency.map((l, i) => `${xOf(i)},${yOf(l[key])}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"/>`);
    input.latency.forEach((l, i) => parts.push(`<circle cx="${xOf(i)}" cy="${yOf(l[key])}" r="3" fill="${color}"/>`));
    parts.push(`<text x="${rx + 20 + s * 60}" y="${panel.top + panel.h + 40}" fill="${color}">${key}</text>`);
  });
  input.latency.forEach((l, i) =>
    parts.push(`<text x="${xOf(i)}" y="${panel.top + panel.h + 14}" text-anchor="middle" font-size="10">${l.offered}</text>`),
  );
  parts.push('</svg>');
  return parts.join('\n');
}
