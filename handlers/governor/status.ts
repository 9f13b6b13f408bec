import { defineStatusSection } from '../../runtime/contract/index.js';
import { killSwitchBlocks, killSwitchState, unreadableSwitch } from '../../domain/kill-switch.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { parseGovernorEvent, type GovernorEvent } from '../../schemas/governor-event.js';
import { keys, streams } from '../../schemas/keys.js';
import { duration, formatUtc } from '../../schemas/status/format.js';
import { DECISION_LIMIT, decisionsSection, entryTime, type Decision } from '../decisions.js';
import { limitsOf, type GovernorConfig, type Limits } from './config.js';
import { decisionDetail, disarmDetail, operatorDetail } from './decision-detail.js';
import { readReservations, reservedExposure } from './reservations.js';
import { evictionText, readEviction } from './eviction.js';

/** The governor's sections of the status: the kill switch, its auto-disarm, and its permits and blocks. */

export interface KillSwitchStatus {
  readonly active: boolean;
  readonly value: string | null;
  /** Set when Redis refuses to read the key ("unreadable: WRONGTYPE ..."): the governor then blocks every plan. */
  readonly unreadable?: string;
}

export interface DisarmStatus {
  readonly active: boolean;
  readonly detail: string | null;
  /**
   * Redis's maxmemory-policy (or why it cannot be read) while it is not noeviction: every open is
   * blocked `redis_may_evict` however the disarm key stands (eviction.ts). Absent on noeviction.
   */
  readonly redis_may_evict?: string;
}

type StreamEntry = [id: string, fields: string[]];

export const killSwitchSection = defineStatusSection<GovernorConfig, KillSwitchStatus>({
  key: 'kill_switch',
  title: 'Kill switch quantum:kill',
  views: [
    {
      shape: 'switch',
      label: 'Kill switch',
      code: 'quantum:kill',
      caption: 'Kill switch',
      terminal: 'kill switch',
      states: [
        {
          when: { active: true },
          text: 'ACTIVE: every plan is blocked',
          tone: 'bad',
          terminal: 'ON: every plan is blocked',
          note: 'unreadable',
        },
        { text: 'off', tone: 'ok', note: 'value', noteLabel: 'value' },
      ],
    },
  ],
  read: (ctx) => ctx.read('kill switch', () => readKillSwitch(ctx.redis)),
  headline: (kill) =>
    kill?.active
      ? [
          {
            state: 'BLOCKING',
            text:
              kill.unreadable !== undefined
                ? `kill switch quantum:kill is ${kill.unreadable}: the governor fails closed and blocks every plan`
                : killSwitchState(kill.value) === 'unrecognised'
                  ? `kill switch quantum:kill holds "${kill.value}", which is neither on nor off: the governor blocks every plan`
                  : 'kill switch quantum:kill is on: the governor blocks every plan',
            since: null,
          },
        ]
      : [],
});

export const disarmSection = defineStatusSection<GovernorConfig, DisarmStatus>({
  key: 'disarm',
  title: 'Auto-disarm quantum:governor:disarm',
  views: [
    {
      shape: 'switch',
      label: 'Auto-disarm',
      code: 'quantum:governor:disarm',
      caption: 'governor auto-disarm',
      terminal: 'disarm',
      states: [
        { when: { active: true }, text: 'TRIPPED: opens are blocked', tone: 'bad', terminal: 'ACTIVE: opens are blocked', note: 'detail' },
        { text: 'clear', tone: 'ok', terminal: 'off' },
      ],
    },
  ],
  // The section of what blocks every open: the disarm key, and a Redis that may evict (its
  // policy read as each decision reads it, so the page and the decisions agree).
  read: (ctx) =>
    ctx.read('disarm', async () => {
      const [disarm, eviction] = await Promise.all([readDisarm(ctx.redis, ctx.now()), readEviction(ctx.redis)]);
      return eviction.kind === 'may_evict' ? { ...disarm, redis_may_evict: eviction.policy } : disarm;
    }),
  headline: (disarm) => [
    ...(disarm?.active
      ? [
          {
            state: 'BLOCKING' as const,
            text: `governor disarmed: every open is blocked${disarm.detail ? ` (${disarm.detail})` : ''}`,
            since: null,
          },
        ]
      : []),
    ...(disarm?.redis_may_evict !== undefined
      ? [{ state: 'BLOCKING' as const, text: evictionText(disarm.redis_may_evict), since: null }]
      : []),
  ],
});

export interface ReservationStatus {
  /** Permitted opens still reserved: not expired (a decision also releases those its book shows). */
  readonly count: number;
  /** The position slots they were permitted with (on a symbol with no open position). */
  readonly slots: number;
  readonly notional_usd: number;
  /** When the oldest of them was reserved (ms), null when there is none. */
  readonly oldest_at: number | null;
}

/**
 * The live members of quantum:governor:{caps}:reservations (issue #23). One read, so the page
 * stays cheap: a reservation whose position already shows in the book is still listed here until
 * it expires, while every decision counts it as released (docs/governor.md "Reservations").
 */
export const reservationsSection = defineStatusSection<GovernorConfig, ReservationStatus>({
  key: 'reservations',
  title: 'Reservations quantum:governor:{caps}:reservations',
  views: [
    {
      shape: 'fields',
      fields: [
        { key: 'count', label: 'Permitted opens reserved', format: 'count' },
        { key: 'slots', label: 'Position slots reserved', format: 'count' },
        { key: 'notional_usd', label: 'Notional reserved', format: 'usd' },
        { key: 'oldest_at', label: 'Oldest reserved at', format: 'time' },
      ],
    },
  ],
  read: (ctx) =>
    ctx.read('reservations', async () => {
      const now = ctx.now();
      const { reservations } = await readReservations(ctx.redis, now);
      const held = reservedExposure(reservations, [], now);
      return { count: held.count, slots: held.positions, notional_usd: held.notional, oldest_at: held.oldestAt ?? null };
    }),
});

export const governorDecisionsSection = decisionsSection<GovernorConfig>(async (ctx) => {
  const stream = ctx.config?.STREAM_EVENTS ?? streams.governorEvents;
  const entries = await ctx.read('governor events', () => ctx.redis.xrevrange(stream, '+', '-', 'COUNT', DECISION_LIMIT));
  return entries === null ? null : governorDecisions(entries, ctx.config ? limitsOf(ctx.config) : undefined);
});

/**
 * The switch as the governor takes it (snapshot.ts): any value but absent, "0", "false" and ""
 * blocks, and so does a key Redis refuses to read. A lost connection still fails the read.
 */
export async function readKillSwitch(redis: Pick<DisarmReader, 'get'>): Promise<KillSwitchStatus> {
  try {
    const value = await redis.get(keys.killSwitch);
    return { active: killSwitchBlocks(value), value };
  } catch (error) {
    const unreadable = unreadableSwitch(error);
    if (unreadable === undefined) throw error;
    return { active: true, value: null, unreadable };
  }
}

interface DisarmReader {
  type(key: string): Promise<string>;
  get(key: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
}

async function readDisarm(redis: DisarmReader, now: number): Promise<DisarmStatus> {
  const type = await redis.type(keys.governorDisarm);
  if (type === 'none') return { active: false, detail: null };
  if (type === 'string') return { active: true, detail: describeDisarm(await redis.get(keys.governorDisarm), now) };
  if (type === 'hash') {
    const hash = await redis.hgetall(keys.governorDisarm);
    return {
      active: true,
      detail:
        hash.reason ??
        (Object.entries(hash)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') ||
          null),
    };
  }
  return { active: true, detail: `(a ${type} key)` };
}

/**
 * The governor stores {reason, context, timestamp} as JSON (schemas/governor-records.ts; the
 * original's {reason, errors, window_sec, ts}): shown as words, not braces, its time (epoch
 * seconds, or milliseconds) as a UTC time with its age, not a raw number.
 */
export function describeDisarm(raw: string | null, now: number): string | null {
  if (raw === null || raw === '') return null;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.entries(parsed)
        .map(
          ([k, v]) =>
            `${k}: ${k === 'timestamp' || k === 'ts' ? readableTime(v, now) : typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
        )
        .join('; ');
    }
  } catch {
    // a plain string reason
  }
  return raw;
}

/** "2026-11-25 14:00:00 UTC (5 min ago)" for epoch seconds or milliseconds; anything else as it is. */
function readableTime(value: unknown, now: number): string {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) return String(value);
  const ms = n < 1e11 ? n * 1000 : n;
  return `${formatUtc(ms)} (${duration(now - ms)} ago)`;
}

const KIND_FIELDS = ['event', 'event_type', 'type', 'decision', 'result', 'outcome', 'status'] as const;

/**
 * Governor events, newest first. The event's kind is read from whichever of the usual fields
 * names it (a permit or a block), so a field renamed upstream degrades to a plain "event" row
 * instead of an empty table.
 */
export function governorDecisions(newestFirstEntries: readonly StreamEntry[], limits?: Limits): Decision[] {
  return newestFirstEntries.map(([id, list]) => {
    const raw = fieldsToRecord(list);
    const known = parseGovernorEvent(raw);
    if (known !== undefined) return knownGovernorDecision(id, known, limits);
    const f = withEmbeddedJson(raw);
    // The first field that names the event wins: a plan's own decision=EXECUTE comes later.
    const named = KIND_FIELDS.map((k) => f[k]).find((v) => v !== undefined && v !== '');
    const side = f.kind === 'open' || f.kind === 'close' ? ` (${f.kind})` : '';
    return {
      at: entryTime(id),
      kind: kindOf(named ?? ''),
      gate: 'governor',
      symbol: f.symbol || null,
      plan_id: f.plan_id || null,
      action: f.action || f.plan_action || null,
      reason: f.reason || f.block_reason || null,
      detail: named === undefined ? null : named + side,
      mode: f.mode || null,
      id,
    };
  });
}

/**
 * An entry the governor event schema knows (schemas/governor-event.ts). Its detail carries the
 * figures it was decided on (decision-detail.ts); an operator's event names the operator as its
 * detail and what they did as its action. `limits` are this process's governor settings, where it
 * hosts the governor.
 */
function knownGovernorDecision(id: string, event: GovernorEvent, limits: Limits | undefined): Decision {
  // What an event does not name is null; every case names its detail (listed here to keep the
  // fields in the order /status has always written them).
  const base = {
    at: entryTime(id),
    gate: 'governor' as const,
    id,
    kind: 'event' as const,
    symbol: null,
    plan_id: null,
    action: null,
    reason: null,
    detail: null,
    mode: null,
  };
  switch (event.event) {
    case 'permit':
    case 'block':
      return {
        ...base,
        kind: event.event,
        symbol: event.symbol || null,
        plan_id: event.plan_id || null,
        action: event.action || null,
        reason: event.reason || null,
        detail: decisionDetail(event, limits),
        mode: event.apply_mode || null,
      };
    case 'AUTO_DISARM':
      return { ...base, reason: event.reason, detail: disarmDetail(event.context) };
    case 'cooldown_expired':
      return { ...base, symbol: event.symbol, plan_id: event.plan_id, detail: event.event };
    default:
      return { ...base, action: event.event, reason: event.reason || null, detail: operatorDetail(event) };
  }
}

function kindOf(text: string): Decision['kind'] {
  if (/block|deny|denied|reject/i.test(text)) return 'block';
  if (/permit|allow|grant|approved/i.test(text)) return 'permit';
  return 'event';
}

/** Some producers put the event in one JSON field (like budget.violation's `json`). */
function withEmbeddedJson(fields: Record<string, string>): Record<string, string> {
  for (const name of ['json', 'payload', 'data']) {
    const raw = fields[name];
    if (raw === undefined || !raw.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(parsed)) if (v !== null && typeof v !== 'object') flat[k] = String(v);
        return { ...flat, ...fields };
      }
    } catch {
      // not JSON after all: keep the fields as they are
    }
  }
  return fields;
}
