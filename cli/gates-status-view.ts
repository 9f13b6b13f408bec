import { type ReleaseRehearsal, type RuntimeStatus, type SectionDescription, RUNTIME_STATUS_KEYS, formatUtc } from '../app/cli-door.js';
import { table } from './output.js';
import type { InstanceRow } from './status-merge.js';
import { renderSection, renderSwitch, renderView, terminalViews } from './section-view.js';
import { renderStatus } from './status-view.js';

const n = (value: number | null | undefined, digits = 4) =>
  value === null || value === undefined ? '-' : Number.isInteger(value) ? String(value) : value.toFixed(digits);

/** The status as the CLI reads it: the runtime's own keys, and each gate's section under its key. */
type GatesStatus = RuntimeStatus & {
  /** A per-gate deployment's processes, when the status is theirs merged (cli/status-merge.ts). */
  readonly instances?: readonly InstanceRow[];
} & Readonly<Record<string, unknown>>;

const HEADLINE_TEXT: Record<GatesStatus['headline']['state'], string> = {
  OK: ': nothing blocks trading and nothing needs attention',
  DEGRADED: ': trading goes on; something needs attention',
  BLOCKING: ': trading is held up',
};

/** Sections with an order first, lowest first; the rest after them as the server listed them. */
function byOrder(a: SectionDescription, b: SectionDescription): number {
  return (a.order ?? Number.POSITIVE_INFINITY) - (b.order ?? Number.POSITIVE_INFINITY) || 0;
}

/** The host's clock against Redis's, in whole seconds where it is off by one or more. */
function clockLine(clock: NonNullable<GatesStatus['clock']>): string {
  if (clock.host_ahead_ms === null) return "clock   not yet measured against Redis's";
  const ms = clock.host_ahead_ms;
  const off = Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`;
  const beyond = Math.abs(ms) > clock.max_skew_sec * 1000 ? `, beyond PRICE_MAX_SKEW_SEC (${clock.max_skew_sec} s)` : '';
  return `clock   this host ${ms >= 0 ? '+' : ''}${off} against Redis's TIME (decisions read Redis's)${beyond}`;
}

function looksLikeGatesStatus(value: unknown): value is GatesStatus {
  return typeof value === 'object' && value !== null && Array.isArray((value as { gates?: unknown }).gates) && 'generated_at' in value;
}

/**
 * The /status JSON as an operator's terminal view, section by section like the status page.
 * Anything that is not the shape this CLI knows (an older or newer server) falls back to the
 * generic rendering rather than failing.
 */
export function renderGatesStatus(value: unknown, { sections = [] }: { sections?: readonly SectionDescription[] } = {}): string {
  if (!looksLikeGatesStatus(value)) return renderStatus(value);
  const s = value;
  // Not ready: at which address, so the on-call knows which Redis to look at.
  const outOf = s.redis_ready ? '' : (s.redis_fault?.address ?? s.instance?.redis);
  const lines: string[] = [
    `quantum-gates status at ${formatUtc(s.generated_at)}  redis ${s.redis_ready ? 'ready' : 'NOT READY'}${outOf ? ` at ${outOf}` : ''}`,
  ];
  if (s.instances) {
    // Per gate: which process answered for which gates, and what each runs (they may differ mid-upgrade).
    lines.push(
      table(
        ['INSTANCE', 'ADDRESS', 'VERSION', 'GATES'],
        s.instances.map((i) => [
          i.name,
          i.instance ? `${i.instance.hostname}:${i.instance.port}` : i.url,
          i.build ? `${i.build.version} (${i.build.commit})` : '-',
          i.error === null ? i.gates.join(', ') : `NO ANSWER: ${i.error}`,
        ]),
      ),
    );
  } else if (s.build || s.instance) {
    lines.push(
      [
        s.build ? `version ${s.build.version} (${s.build.commit})` : '',
        s.instance ? `instance ${s.instance.name} on ${s.instance.hostname}:${s.instance.port}` : '',
      ]
        .filter(Boolean)
        .join('  '),
    );
  }
  if (s.clock) lines.push(clockLine(s.clock));
  const rehearsal = s.build?.rehearsal ?? s.instances?.find((i) => i.build?.rehearsal)?.build?.rehearsal;
  if (rehearsal) lines.push(rehearsalLine(rehearsal));
  // Older servers have no headline: their section errors are listed at the end instead.
  if (s.headline) {
    lines.push('', `${s.headline.state}${HEADLINE_TEXT[s.headline.state]}`);
    for (const r of s.headline.reasons)
      lines.push(`  ${r.state === 'NOTE' ? 'NOTE    ' : r.state}  ${r.text}${r.since ? ` (since ${formatUtc(r.since)})` : ''}`);
    lines.push('');
  }

  const drawn = [...sections].filter((d) => d.key in s).sort(byOrder);
  // The switches on one line, the one-line sections (portfolio heat) under it, beside the dead letters.
  const switches = drawn.flatMap((d) =>
    terminalViews(d).flatMap((v) => (v.shape === 'switch' ? [`${v.terminal} ${renderSwitch(s[d.key], v)}`] : [])),
  );
  if (switches.length > 0) lines.push(switches.join('   '));
  const oneLine = drawn.filter((d) => terminalViews(d).length > 0 && terminalViews(d).every((v) => v.shape === 'sentence'));
  for (const d of oneLine)
    if (s[d.key] !== null && s[d.key] !== undefined) lines.push(...terminalViews(d).map((v) => renderView(s[d.key], v)));
  if (s.dead_letter) lines.push(`dead letters ${s.dead_letter.length} in ${s.dead_letter.stream}`);

  lines.push(
    '',
    table(
      ['GATE', 'MODE', 'CONSUMING', 'PROCESSED', 'FAILED', 'DEAD-LETTERED', 'PENDING', 'LAG', 'SOURCE'],
      s.gates.map((g) => [
        g.name,
        g.mode ?? '-',
        g.consuming ? 'yes' : 'NO',
        g.processed,
        g.failed,
        g.dead_lettered,
        n(g.pending),
        n(g.lag),
        g.source,
      ]),
    ),
  );

  // Every other section with something for the terminal, in its declared order; one without
  // views, or that the server does not describe (an older server), as its JSON.
  const blocks = drawn.filter((d) => !oneLine.includes(d) && (d.views.length === 0 || terminalViews(d).some((v) => v.shape !== 'switch')));
  for (const d of blocks) lines.push('', renderSection(d.key, s[d.key], { ...d, views: d.views.filter((v) => v.shape !== 'switch') }));
  const own = new Set<string>([...RUNTIME_STATUS_KEYS, 'instances', ...sections.map((d) => d.key)]);
  for (const [key, section] of Object.entries(s)) if (!own.has(key)) lines.push('', renderSection(key, section, undefined));
  if (!s.headline && s.errors.length > 0) lines.push('', 'Could not read:', ...s.errors.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Of the decisions that differ, those whose verdict changed and those only in other fields (a record that says). */
const split = (r: ReleaseRehearsal) =>
  r.differ && r.verdicts !== undefined && r.others !== undefined
    ? ` (${r.verdicts} in their verdict, ${r.others} only in other fields)`
    : '';

/** The running release's rehearsal before it was switched to (release.sh), in one line. */
export function rehearsalLine(r: ReleaseRehearsal): string {
  const what =
    r.could_not_run !== undefined
      ? `could not be rehearsed (${r.could_not_run})`
      : `rehearsed ${formatUtc(r.at)} on ${r.decisions ?? 0} taped decisions: ${r.differ ?? 0} different${split(r)}, ${r.unanswerable ?? 0} unanswerable`;
  const scope = r.accepted?.scope === 'other' ? ' (other fields only)' : '';
  return `release ${what}${r.accepted ? `; accepted${scope} by ${r.accepted.by} at ${formatUtc(r.accepted.at)}: ${r.accepted.reason}` : ''}`;
}
