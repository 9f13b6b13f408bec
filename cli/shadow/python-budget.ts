import {
  periodField,
  SHADOW_INCUMBENT_BUDGETS,
  SHADOW_INCUMBENT_BUDGETS_SEEN,
  SHADOW_STATE,
  tickId,
  tickSlot,
} from '../../app/cli-door.js';
import { compareStreamIds, fieldsToRecord } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { BUDGET_GATE } from './budget-pair.js';
import type { PairingWriter } from './reader.js';
import type { Decided } from './pair.js';
import type { PythonReader } from './reader.js';
import { streamEntries } from './stream-entries.js';
import { periodOf } from './taped-tick.js';

/**
 * The Python budget engine's ticks (P2.8, binyaminsemerci-ops/quantum_trader @ca9ec8239,
 * microservices/portfolio_risk_governor/main.py), where upstream's code writes them:
 * - `budget_compute_loop` (lines 489-517) sleeps BUDGET_COMPUTE_INTERVAL_SEC, lists the symbols
 *   (KEYS quantum:position:snapshot:*, the 4th `:`-part, lines 501-507) and computes them all at
 *   once (asyncio.gather, line 517): its ticks come a period plus the compute apart, on no grid;
 * - `compute_and_publish_budget` (lines 390-405; the same lines @73fab1f55) HSETs
 *   quantum:portfolio:budget:{symbol} with the 10 fields, `timestamp` str(int(time.time())), then
 *   EXPIRE 300 s: only each symbol's last tick is there.
 * A tick is named by the period its `timestamp` falls in (app/shadow/tick.ts). It writes no hash
 * for a tick without usable portfolio state, or with no symbols: such a tick is not seen at all.
 */
const PREFIX = keys.budget('');
const MAX_KEPT = 100_000;

/** The Python budget hashes now, by symbol (a SCAN of the prefix; the cluster hashes its docstring names are not symbols). */
export async function pythonBudgetHashes(redis: PythonReader): Promise<Map<string, Record<string, string>>> {
  const found = new Map<string, Record<string, string>>();
  let cursor = '0';
  do {
    const [next, names] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    cursor = next;
    for (const name of names) {
      const symbol = name.slice(PREFIX.length);
      if (symbol === '' || symbol.includes(':')) continue;
      const hash = await redis.hgetall(name);
      if (hash.timestamp !== undefined) found.set(symbol, hash);
    }
  } while (cursor !== '0');
  return found;
}

/**
 * Keeps each Python budget the live pairing sees for the first time (a stamp it has not kept for
 * the symbol), under the shadow's prefix: the next tick writes over the hash, and the pairing of
 * this one may come after it. Run every pairing round (every 5 s; P2.8 ticks every 10 s).
 */
export async function observePythonBudgets(redis: PythonReader, writer: PairingWriter): Promise<number> {
  // Only while the shadow hosts the budget engine (its period in the state).
  if ((await redis.hgetall(SHADOW_STATE))[periodField(BUDGET_GATE)] === undefined) return 0;
  const [hashes, seen] = await Promise.all([pythonBudgetHashes(redis), redis.hgetall(SHADOW_INCUMBENT_BUDGETS_SEEN)]);
  const fresh = [...hashes].filter(([symbol, hash]) => seen[symbol] !== hash.timestamp);
  if (fresh.length === 0) return 0;
  const tx = writer.multi();
  for (const [symbol, hash] of fresh) {
    tx.xadd(SHADOW_INCUMBENT_BUDGETS, 'MAXLEN', '~', MAX_KEPT, '*', 'symbol', symbol, 'hash', JSON.stringify(hash));
    tx.hset(SHADOW_INCUMBENT_BUDGETS_SEEN, symbol, hash.timestamp!);
  }
  await tx.exec();
  return fresh.length;
}

/** The Python budget engine's ticks after `since`: those the pairing kept, and the hashes as they are now. */
export async function pythonBudgetTicks(redis: PythonReader, since: string): Promise<Map<string, Decided>> {
  const periodMs = await periodOf(redis, BUDGET_GATE);
  const bySlot = new Map<number, Map<string, Record<string, string>>>();
  const add = (symbol: string, hash: Record<string, string>) => {
    const stampSec = Number(hash.timestamp);
    if (!Number.isFinite(stampSec)) return;
    const slot = tickSlot(stampSec * 1000, periodMs);
    bySlot.set(slot, (bySlot.get(slot) ?? new Map<string, Record<string, string>>()).set(symbol, hash));
  };
  // Kept after the tick it saw: entries from `since`'s time on hold every tick after it.
  for await (const [, fields] of streamEntries(redis, SHADOW_INCUMBENT_BUDGETS, `${since.split('-')[0]}-0`)) {
    const { symbol, hash } = fieldsToRecord(fields);
    if (symbol === undefined || hash === undefined) continue;
    try {
      add(symbol, JSON.parse(hash) as Record<string, string>);
    } catch {
      continue;
    }
  }
  for (const [symbol, hash] of await pythonBudgetHashes(redis)) add(symbol, hash);
  const found = new Map<string, Decided>();
  for (const [slot, budgets] of bySlot) {
    const id = tickId(slot);
    if (compareStreamIds(id, since) <= 0) continue;
    const effects = [...budgets].map(([symbol, fields]) => ({ op: 'putHash', key: keys.budget(symbol), fields }));
    found.set(id, { gate: BUDGET_GATE, id, producedAt: slot, raw: {}, outcome: 'handled', effects, jobs: [] });
  }
  return found;
}
