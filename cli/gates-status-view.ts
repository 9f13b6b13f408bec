import type { Decision } from '../handlers/decisions.js';
import type { DisarmStatus, KillSwitchStatus } from '../handlers/governor/status.js';
import type { HeatStatus } from '../handlers/heat-gate/status.js';
import type { OutcomesStatus } from '../handlers/outcomes/status.js';
import type { BudgetRow } from '../handlers/risk-budget/status.js';
import type { RuntimeStatus, SectionDescription } from '../runtime/host/http/status.js';
import { RUNTIME_STATUS_KEYS } from '../runtime/host/http/status-keys.js';
import { formatUtc } from '../runtime/host/http/status-time.js';
import { table, truncate } from './output.js';
import type { InstanceRow } from './status-merge.js';
import { renderSection } from './section-view.js';
import { renderStatus } from './status-view.js';

const n = (value: number | null | undefined, digits = 4) =>
  value === null || value === undefined ? '-' : Number.isInteger(value) ? String(value) : value.toFixed(digits);

/** Room for a block's figures and an operator's name and target (handlers/governor/decision-detail.ts). */
const DETAIL_WIDTH = 64;

/** The gates' sections this view lays out itself (the rest are listed generically at the end). */
interface KnownSections {
  readonly heat?: HeatStatus | null;
  readonly budgets?: readonly BudgetRow[] | null;
  readonly kill_switch?: KillSwitchStatus | null;
  readonly disarm?: DisarmStatus | null;
  readonly decisions?: readonly Decision[] | null;
  /** Shown on the page only; `quantum-gates report outcomes` has them in full. */
  readonly outcomes?: OutcomesStatus | null;
  /** A per-gate deployment's processes, when the status is theirs merged (cli/status-merge.ts). */
  readonly instances?: readonly InstanceRow[];
}

type GatesStatus = RuntimeStatus & KnownSections;

const KNOWN_SECTIONS: readonly (keyof KnownSections)[] = ['heat', 'budgets', 'kill_switch', 'disarm', 'decisions', 'outcomes', 'instances'];

const HEADLINE_TEXT: Record<GatesStatus['headline']['state'], string> = {
  OK: ': nothing blocks trading and nothing needs attention',
  DEGRADED: ': trading goes on; something needs attention',
  BLOCKING: ': trading is held up',
};

function looksLikeGatesStatus(value: unknown): value is GatesStatus {
  return typeof value === 'object' && value !== null && Array.isArray((value as { gates?: unknown }).gates) && 'generated_at' in value;
}

/**
 * The /status JSON as an operator's terminal view, section by section like the status page.
 * Anything that is not the shape this CLI knows (an older or newer server) falls back to the
 * generic rendering rather than failing.
 */
export function renderGatesStatus(
  value: unknown,
  { decisions = 15, sections = [] }: { decisions?: number; sections?: readonly SectionDescription[] } = {},
): string {
  if (!looksLikeGatesStatus(value)) return renderStatus(value);
  const s = value;
  const lines: string[] = [`quantum-gates status at ${formatUtc(s.generated_at)}  redis ${s.redis_ready ? 'ready' : 'NOT READY'}`];
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
  // Older servers have no headline: their section errors are listed at the end instead.
  if (s.headline) {
    lines.push('', `${s.headline.state}${HEADLINE_TEXT[s.headline.state]}`);
    for (const r of s.headline.reasons)
      lines.push(`  ${r.state === 'BLOCKING' ? 'BLOCKING' : 'DEGRADED'}  ${r.text}${r.since ? ` (since ${formatUtc(r.since)})` : ''}`);
    lines.push('');
  }

  const kill = s.kill_switch ?? null;
  const disarm = s.disarm ?? null;
  lines.push(
    `kill switch ${kill === null ? 'unknown' : kill.active ? 'ON: every plan is blocked' : 'off'}   ` +
      `disarm ${disarm === null ? 'unknown' : disarm.active ? `ACTIVE: opens are blocked (${disarm.detail ?? ''})` : 'off'}`,
  );
  if (s.heat) {
    const t = s.heat.thresholds;
    lines.push(
      `portfolio heat ${n(s.heat.value)} ${s.heat.bucket ?? ''}` +
        (t ? ` (COLD < ${t.min} <= WARM < ${t.max} <= HOT)` : '') +
        (s.heat.updated_at ? `, updated ${formatUtc(s.heat.updated_at)}` : ''),
    );
  }
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

  if (s.budgets && s.budgets.length > 0) {
    lines.push(
      '',
      'Budgets',
      table(
        ['SYMBOL', 'BUDGET USD', 'STRESS', 'POSITION USD', 'OVER', 'MODE', 'COMPUTED'],
        s.budgets.map((b) => [
          b.symbol,
          n(b.budget_usd, 2),
          n(b.stress_factor),
          n(b.position_notional_usd, 2),
          b.over_budget ? 'YES' : 'no',
          b.mode ?? '-',
          formatUtc(b.computed_at ?? 0),
        ]),
      ),
    );
  }
  if (s.decisions && s.decisions.length > 0) {
    lines.push(
      '',
      'Latest decisions',
      table(
        ['AT', 'GATE', 'KIND', 'SYMBOL', 'PLAN', 'ACTION', 'REASON', 'DETAIL'],
        s.decisions
          .slice(0, decisions)
          .map((d) => [
            formatUtc(d.at),
            d.gate,
            d.kind,
            d.symbol ?? '-',
            truncate(d.plan_id ?? '-', 12),
            d.action ?? '-',
            d.reason ?? '-',
            truncate(d.detail ?? '', DETAIL_WIDTH),
          ]),
      ),
    );
  }
  // A gate's section this view does not lay out itself (a newly added gate's): drawn from its declared views.
  const known = new Set<string>([...RUNTIME_STATUS_KEYS, ...KNOWN_SECTIONS]);
  for (const [key, section] of Object.entries(s)) {
    if (!known.has(key))
      lines.push(
        '',
        renderSection(
          key,
          section,
          sections.find((d) => d.key === key),
        ),
      );
  }
  if (!s.headline && s.errors.length > 0) lines.push('', 'Could not read:', ...s.errors.map((e) => `  ${e}`));
  return lines.join('\n');
}
