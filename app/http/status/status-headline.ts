import { duration } from '../../../schemas/status/format.js';
import type { ReadinessCauses, SectionHeadlineReason } from '../../../runtime/host/index.js';
import type { RedisOutage, UnreadSections } from './status-errors.js';
import type { GateTrend } from './status-trends.js';

/**
 * The answer to "is it OK?" at the top of the status page, of GET /status and of
 * `quantum-gates status`:
 * - BLOCKING: trading is held up. A gate's section says so (the governor's kill switch or
 *   disarm), or a hosted gate cannot make progress (/ready answers 503: Redis unreachable,
 *   stalled or refusing writes, a gate not consuming).
 * - DEGRADED: something needs a person, but trading goes on (dead letters, a gate failing
 *   messages, a growing backlog, what a gate's section reports, such as stale or missing
 *   budgets, sections that could not be read).
 * - OK: none of those.
 */
export type HeadlineState = 'OK' | 'DEGRADED' | 'BLOCKING';

export interface HeadlineReason {
  /** NOTE: said, but the state is OK or DEGRADED without it (a calibration warning, not an alarm). */
  readonly state: Exclude<HeadlineState, 'OK'> | 'NOTE';
  readonly text: string;
  /** When the condition began (ms since the epoch), where known. */
  readonly since: number | null;
}

export interface Headline {
  readonly state: HeadlineState;
  /** Blocking reasons first, notes last; no BLOCKING or DEGRADED one when OK. */
  readonly reasons: readonly HeadlineReason[];
}

/** The parts of the status the headline is computed from. */
export interface HeadlineInput {
  readonly now: number;
  readonly dead_letter: { readonly stream: string; readonly length: number } | null;
  /** What the gates' status sections say, in the gate list's order (runtime/contract/status-section.ts). */
  readonly sections: readonly SectionHeadlineReason[];
  readonly gates: readonly { readonly name: string; readonly lag: number | null }[];
  /** Why /ready would answer 503; undefined where the status has no runtime behind it. */
  readonly readiness: ReadinessCauses | undefined;
  /** Redis sections left unread by the outage the readiness reports. */
  readonly redis: RedisOutage | null;
  /** Sections that failed for another reason. */
  readonly unread: readonly UnreadSections[];
  readonly trends: readonly GateTrend[];
  /** This host's clock against Redis's; absent where no runtime answers. */
  readonly clock?: { readonly host_ahead_ms: number | null; readonly max_skew_sec: number } | null;
}

/** A gate this many entries behind its stream is behind: the QuantumGatesConsumerLag alert's threshold. */
export const LAG_BEHIND = 1000;
/** A backlog that grew by this many entries over the trend window is growing. */
export const BACKLOG_GROWTH = 100;

export function statusHeadline(input: HeadlineInput): Headline {
  const reasons = [...blocking(input), ...degraded(input), ...input.sections.filter((r) => r.state === 'NOTE')];
  return { state: headlineState(reasons), reasons };
}

/** The worst of the reasons; notes change nothing. */
export function headlineState(reasons: readonly HeadlineReason[]): HeadlineState {
  return reasons.some((r) => r.state === 'BLOCKING') ? 'BLOCKING' : reasons.some((r) => r.state === 'DEGRADED') ? 'DEGRADED' : 'OK';
}

function blocking(input: HeadlineInput): HeadlineReason[] {
  const out: HeadlineReason[] = [];
  const block = (text: string, since: number | null = null) => out.push({ state: 'BLOCKING', text, since });
  const { readiness } = input;

  for (const reason of input.sections) if (reason.state === 'BLOCKING') out.push(reason);
  if (readiness === undefined) return out;

  if (readiness.starting) block('the runtime is starting');
  const fault = readiness.redis;
  if (fault) {
    // Redis explains the gates' faults: say it once, naming the gates that wait for it.
    const waiting = [...new Set(readiness.gates.map((g) => g.gate))];
    const what =
      fault.cause === 'writes_refused'
        ? 'Redis refuses writes'
        : fault.cause === 'evicts_keys'
          ? 'Redis may evict keys'
          : `Redis ${fault.cause}`;
    const unread = input.redis ? `; ${count(input.redis.sections.length, 'section')} could not be read` : '';
    block(
      `${what} (${fault.detail})${waiting.length > 0 ? `; ${waiting.join(', ')} ${waiting.length === 1 ? 'waits' : 'wait'} for it` : ''}${unread}`,
      fault.since,
    );
  } else {
    // A gate may be both faulty and not consuming: one line per gate, its causes together.
    for (const gate of new Set(readiness.gates.map((g) => g.gate))) {
      const causes = readiness.gates.filter((g) => g.gate === gate);
      const since = causes.flatMap((c) => (c.since === null ? [] : [c.since]));
      block(`${gate} cannot make progress: ${causes.map((c) => c.cause).join('; ')}`, since.length > 0 ? Math.min(...since) : null);
    }
  }
  return out;
}

function degraded(input: HeadlineInput): HeadlineReason[] {
  const out: HeadlineReason[] = [];
  const warn = (text: string, since: number | null = null) => out.push({ state: 'DEGRADED', text, since });

  const dlq = input.dead_letter;
  if (dlq && dlq.length > 0) warn(`${count(dlq.length, 'dead letter')} in ${dlq.stream} (quantum-gates dlq list)`);

  for (const t of input.trends) {
    const window = `in the last ${duration(t.overMs)}`;
    const failures = [
      t.failed > 0 ? `${count(t.failed, 'message')} failed` : '',
      t.deadLettered > 0 ? `${count(t.deadLettered, 'message')} dead-lettered` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    if (failures) warn(`${t.gate}: ${failures} ${window}`);
  }
  for (const gate of input.gates) {
    const trend = input.trends.find((t) => t.gate === gate.name);
    if (gate.lag !== null && gate.lag >= LAG_BEHIND) warn(`${gate.name} is ${gate.lag.toLocaleString('en-US')} entries behind its stream`);
    else if (trend && trend.backlogFrom !== null && trend.backlogTo !== null && trend.backlogTo - trend.backlogFrom >= BACKLOG_GROWTH) {
      warn(`${gate.name}: backlog grew from ${trend.backlogFrom} to ${trend.backlogTo} in the last ${duration(trend.overMs)}`);
    }
  }

  for (const reason of input.sections) if (reason.state === 'DEGRADED') out.push(reason);

  const clock = input.clock;
  if (clock && clock.host_ahead_ms !== null && Math.abs(clock.host_ahead_ms) > clock.max_skew_sec * 1000) {
    const seconds = Math.round(Math.abs(clock.host_ahead_ms) / 1000);
    warn(
      `this host's clock is ${seconds} s ${clock.host_ahead_ms > 0 ? 'ahead of' : 'behind'} Redis's (PRICE_MAX_SKEW_SEC is ${clock.max_skew_sec}): ` +
        "decisions read Redis's clock, but this host's logs and BullMQ's delays do not; fix its time sync (chronyc tracking)",
    );
  }

  // Without a Redis fault, a section that could not be read is this page's problem, not trading's.
  for (const u of input.unread) warn(`could not read ${u.sections.join(', ')}: ${u.message}`);
  return out;
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
