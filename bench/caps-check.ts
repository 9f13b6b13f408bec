/**
 * Whether a drained backlog of the bench's plans (governor-plans.ts planFields: `gov-{n}`, closes
 * at even n, opens of one `tradeUsd` each at odd n) was decided with the total-notional cap exact:
 * the check behind "an hour at 100x drained with the caps exact" (bench/run.ts, section `hour`).
 *
 * The testnet path blocks an open once the book plus the reserved notional stands at the cap
 * (docs/governor.md), so with a book of B below a cap C the opens permitted are exactly
 * ceil((C − B) / tradeUsd), the k-th of them having seen k − 1 opens reserved before it. B is not
 * assumed: it is the book every open decision reports (`total_notional`), which must be one figure.
 */

/** A governor decision event's fields the check reads. */
export interface DecisionFields {
  readonly plan_id?: string;
  readonly event?: string;
  readonly reason?: string;
  readonly total_notional?: string;
  readonly reserved_notional?: string;
}

export interface CapsCheck {
  readonly exact: boolean;
  /** What is wrong, empty when exact. */
  readonly problems: readonly string[];
  readonly opens: number;
  readonly openPermits: number;
  readonly expectedOpenPermits: number | undefined;
  /** The book's notional the open decisions reported, when they agree. */
  readonly bookNotional: number | undefined;
  readonly blockReasons: Readonly<Record<string, number>>;
}

/** Reasons an open may be blocked for in this run: the cap itself, or its symbol's cooldown after a permit. */
const CAP_REASONS = new Set(['total_notional_exceeded', 'symbol_cooldown']);

const cents = (usd: number) => Math.round(usd * 100);

export function checkCaps(
  decisions: readonly DecisionFields[],
  plans: number,
  capUsd: number,
  tradeUsd: number,
  reservedUsd: number,
): CapsCheck {
  const problems: string[] = [];
  const seenIds = new Map<number, number>();
  const books = new Set<number>();
  const reservedSeen: number[] = [];
  const blockReasons: Record<string, number> = {};
  let [opens, openPermits] = [0, 0];
  for (const d of decisions) {
    const n = /^gov-(\d+)$/.exec(d.plan_id ?? '')?.[1];
    if (n === undefined || Number(n) >= plans) {
      problems.push(`a decision of no plan of the backlog: ${d.plan_id}`);
      continue;
    }
    seenIds.set(Number(n), (seenIds.get(Number(n)) ?? 0) + 1);
    const open = Number(n) % 2 === 1;
    if (!open) {
      if (d.event !== 'permit') problems.push(`close ${d.plan_id} not permitted (${d.event} ${d.reason})`);
      continue;
    }
    opens++;
    if (d.total_notional !== undefined && d.total_notional !== '') books.add(cents(Number(d.total_notional)));
    if (d.event === 'permit') {
      openPermits++;
      reservedSeen.push(cents(Number(d.reserved_notional)));
    } else {
      const reason = d.reason ?? '';
      blockReasons[reason] = (blockReasons[reason] ?? 0) + 1;
      if (!CAP_REASONS.has(reason)) problems.push(`open ${d.plan_id} blocked for ${reason}, not a cap`);
    }
  }
  const twice = [...seenIds.values()].filter((k) => k > 1).length;
  if (twice > 0) problems.push(`${twice} plans decided more than once`);
  if (seenIds.size !== plans) problems.push(`${plans - seenIds.size} of ${plans} plans undecided`);
  if (books.size !== 1) problems.push(`the open decisions reported ${books.size} book notionals, not one`);
  const bookNotional = books.size === 1 ? [...books][0]! / 100 : undefined;
  let expectedOpenPermits: number | undefined;
  if (bookNotional !== undefined) {
    expectedOpenPermits = Math.max(0, Math.ceil((cents(capUsd) - cents(bookNotional)) / cents(tradeUsd)));
    if (openPermits !== expectedOpenPermits) problems.push(`${openPermits} opens permitted, the cap allows ${expectedOpenPermits}`);
    const sorted = [...reservedSeen].sort((a, b) => a - b);
    if (sorted.some((c, k) => c !== k * cents(tradeUsd)))
      problems.push('the permits did not each see every permit before them reserved (0, 1, 2, … trades)');
  }
  if (cents(reservedUsd) !== openPermits * cents(tradeUsd))
    problems.push(`the reservations hold $${reservedUsd}, the permits $${(openPermits * cents(tradeUsd)) / 100}`);
  return { exact: problems.length === 0, problems, opens, openPermits, expectedOpenPermits, bookNotional, blockReasons };
}
