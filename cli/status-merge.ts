import {
  type BuildInfo,
  type GatesStatus,
  type SectionDescription,
  type StatusInstance,
  headlineState,
  type Headline,
  type HeadlineReason,
  RUNTIME_STATUS_KEYS,
} from '../app/cli-door.js';

/** What one instance of a per-gate deployment answered to GET /status (and /status/sections), or why it did not. */
export interface InstanceAnswer {
  /** The instance's name (`governor`, from gates-governor.env), or its URL when given by --url. */
  readonly name: string;
  readonly url: string;
  readonly status?: GatesStatus;
  readonly sections?: readonly SectionDescription[];
  /** Why it gave no status: unreachable, refused the credentials, answered something else. */
  readonly error?: string;
  /** The gates it hosts as its env file names them (HANDLERS, else its name); unknown for one given by URL. */
  readonly hosts?: readonly string[];
  /** It answered, but runs on another Redis than the one named: another deployment, never shown. */
  readonly otherRedis?: boolean;
}

/** One line of the instances table: which process answered, and what it runs. */
export interface InstanceRow {
  readonly name: string;
  readonly url: string;
  readonly instance: StatusInstance | null;
  readonly build: BuildInfo | null;
  readonly gates: readonly string[];
  readonly error: string | null;
}

/** The per-gate deployment's status as one: the shape of GET /status, with the instances that made it. */
export type MergedStatus = GatesStatus & { readonly instances: readonly InstanceRow[] };

const RUNTIME_KEYS: ReadonlySet<string> = new Set(RUNTIME_STATUS_KEYS);

/**
 * One status across a per-gate deployment's processes. Each process reports only the gates it
 * hosts, so every gate's row comes from the process that hosts it. The sections (heat, budgets,
 * kill switch...) are read from Redis by every process alike, so each is shown once: from a
 * process hosting a gate that declares it (which reads it with that gate's own settings), else
 * from the first that has it. The headline is the worst of theirs, each reason once, and an
 * instance that did not answer is a reason of its own: its gates decide nothing (missingInstance).
 */
export function mergeInstanceStatuses(answers: readonly InstanceAnswer[]): MergedStatus | undefined {
  const answered = answers.filter((a): a is InstanceAnswer & { status: GatesStatus } => a.status !== undefined);
  if (answered.length === 0) return undefined;

  const reasons: HeadlineReason[] = [];
  const seen = new Set<string>();
  const addReason = (reason: HeadlineReason) => {
    const key = `${reason.state} ${reason.text}`;
    if (seen.has(key)) return;
    seen.add(key);
    reasons.push(reason);
  };
  for (const a of answers) if (a.error !== undefined) addReason(missingInstance(a));
  for (const a of answered) for (const r of a.status.headline?.reasons ?? []) addReason(r);
  // Blocking reasons first and notes last, as each process orders its own.
  const rank = { BLOCKING: 0, DEGRADED: 1, NOTE: 2 } as const;
  reasons.sort((x, y) => rank[x.state] - rank[y.state]);
  const headline: Headline = { state: headlineState(reasons), reasons };

  const sectionKeys: string[] = [];
  for (const a of answered)
    for (const key of Object.keys(a.status)) if (!RUNTIME_KEYS.has(key) && !sectionKeys.includes(key)) sectionKeys.push(key);
  const sections = Object.fromEntries(
    sectionKeys.map((key) => {
      const withValue = answered.filter((a) => a.status[key] !== null && a.status[key] !== undefined);
      const declarers = new Set(answered.flatMap((a) => a.sections ?? []).find((d) => d.key === key)?.gates ?? []);
      const host = withValue.find((a) => a.status.gates.some((g) => declarers.has(g.name))) ?? withValue[0];
      return [key, host === undefined ? null : host.status[key]];
    }),
  );

  const first = answered[0]!.status;
  const firstOf = <K extends 'dead_letter' | 'redis_fault'>(key: K): GatesStatus[K] =>
    answered.map((a) => a.status[key]).find((v) => v !== null && v !== undefined) ?? null;
  return {
    generated_at: Math.max(...answered.map((a) => a.status.generated_at)),
    headline,
    build: first.build ?? null,
    instance: null,
    redis_ready: answered.every((a) => a.status.redis_ready),
    clock: first.clock ?? null,
    gates: answered.flatMap((a) => a.status.gates),
    ...sections,
    dead_letter: firstOf('dead_letter'),
    redis_fault: firstOf('redis_fault'),
    errors: [...new Set(answered.flatMap((a) => a.status.errors ?? []))],
    instances: answers.map((a) => ({
      name: a.name,
      url: a.url,
      instance: a.status?.instance ?? null,
      build: a.status?.build ?? null,
      gates: a.status?.gates.map((g) => g.name) ?? [],
      error: a.error ?? null,
    })),
  };
}

/**
 * An instance that did not answer, as the governor lives with it. Without the governor no plan is
 * permitted: BLOCKING, and so is an instance whose gates are unknown (given by URL). Without any
 * other gate the governor goes on deciding (without budgets it allows plans, docs/risk-budget.md):
 * DEGRADED, saying what is missing, so that P2.8's documented rollback (stopping the risk-budget
 * instance) does not read as trading held up.
 */
export function missingInstance(a: InstanceAnswer): HeadlineReason {
  if (a.otherRedis === true)
    return { state: 'BLOCKING', text: `instance ${a.name} (${a.url}) is ${a.error ?? 'another deployment'}`, since: null };
  const text = `instance ${a.name} (${a.url}) did not answer: ${a.error ?? ''}`;
  if (a.hosts === undefined || a.hosts.includes('governor')) return { state: 'BLOCKING', text, since: null };
  const without = a.hosts.includes('risk-budget')
    ? 'no budgets are written, and the governor allows plans without a budget check'
    : `the governor decides without ${a.hosts.join(', ')}`;
  return { state: 'DEGRADED', text: `${text}: ${without}`, since: null };
}
