/**
 * Streams and keys shared with the rest of the pipeline. The names are the Python services'
 * exactly: other services read and write them.
 */
export const streams = {
  harvestProposal: 'quantum:stream:harvest.proposal',
  harvestCalibrated: 'quantum:stream:harvest.calibrated',
  heatDecision: 'quantum:stream:harvest.heat.decision',
  positionSnapshot: 'quantum:stream:position.snapshot',
  applyPlan: 'quantum:stream:apply.plan',
  /** The Apply Layer's results (8f5055c52 publish_result: plan_id, symbol, decision, executed, ...). */
  applyResult: 'quantum:stream:apply.result',
  governorEvents: 'quantum:stream:governor.events',
  budgetViolation: 'quantum:stream:budget.violation',
  deadLetter: 'quantum:stream:dlq',
  /** Ours: counterfactual outcomes of decisions that changed exposure (docs/outcomes.md). */
  gatesOutcome: 'quantum:stream:gates.outcome',
} as const;

export const keys = {
  portfolioState: 'quantum:state:portfolio',
  /** Latest portfolio heat, written by the heat gate for the budget engine and dashboards. */
  portfolioHeat: 'quantum:portfolio:heat',
  /**
   * The Position Ledger's (P3.3) hash: position_amt, side, entry_price, mark_price,
   * unrealized_pnl, leverage, ts_epoch, with a TTL. Not ours: read, never written or deleted.
   */
  p33PositionSnapshot: (symbol: string) => `quantum:position:snapshot:${symbol}`,
  /** The pattern P3.3's hashes match, for SCAN (never KEYS). */
  p33PositionSnapshotPattern: 'quantum:position:snapshot:*',
  /**
   * The Position Ledger's (P3.3) hash since upstream de25f13cb: symbol, position_amt, side
   * LONG/SHORT/FLAT, quantity, entry_price, mark_price, current_price, unrealized_pnl, leverage,
   * ts_epoch, source; TTL 1 h (on-demand 5 min). Not ours: read, never written or deleted.
   */
  p33StatePositions: (symbol: string) => `quantum:state:positions:${symbol}`,
  /** P3.3's symbol universe (JSON {"symbols": [...]}, written by the universe service); read to find P3.3's hashes. */
  universeActive: 'quantum:cfg:universe:active',
  universeLastOk: 'quantum:cfg:universe:last_ok',
  /** Ours: the position-index job's SCAN cursor per P3.3 prefix (its bounded backstop sweep). */
  p33IndexScanCursor: (prefix: string) => `quantum:gates:positions:p33_scan_cursor:${prefix}`,
  /** The price feed's hash (microservices/price_feed): symbol, price, markPrice, timestamp (ms); TTL 10 s. */
  ticker: (symbol: string) => `quantum:ticker:${symbol}`,
  /** The market state publisher's hash (microservices/market_state_publisher): sigma, mu, ts (trend strength), …, ts_timestamp (s); TTL 600 s. */
  marketStatePublished: (symbol: string) => `quantum:marketstate:${symbol}`,
  /** Our materialised view of quantum:stream:position.snapshot: one hash per symbol, written only by position-snapshot. */
  position: (symbol: string) => `quantum:gates:position:${symbol}`,
  /**
   * Our view of one leg (LONG/SHORT) of a symbol, for snapshots that name their side (the balance
   * tracker's, one entry per leg in hedge mode): written beside `position` by position-snapshot.
   */
  positionLeg: (symbol: string, leg: string) => `quantum:gates:position:${symbol}:${leg}`,
  /**
   * Ours: the position book's memory of what it knew was held: hash, field `SYMBOL:LEG`, value JSON
   * {"by": [lanes that reported it], "at": ms of its first figure, "silent": [lanes gone silent], "unread": true (only refused words said it)}. Written by the governor's
   * decisions (handlers/positions/memory.ts), cleared by `quantum-gates positions clear`; no TTL.
   */
  positionsHeld: 'quantum:gates:positions:held',
  /**
   * The balance tracker's account hash (upstream microservices/balance_tracker/balance_tracker.py:148,
   * at 73fab1f55): balance, …, total_positions, timestamp (s), written every round before its
   * position snapshots. Read for `timestamp` only: the tracker is running.
   */
  trackerAccount: 'quantum:account:balance',
  /** The stream id of the snapshot last applied for a symbol: outlives a closed position's hash, so an older snapshot cannot come back. */
  positionAppliedId: (symbol: string) => `quantum:gates:position_applied_id:${symbol}`,
  /** Symbols with a non-zero position in our view; lets every gate read all positions without KEYS. Our own (the originals had no such index). */
  activePositions: 'quantum:gates:positions:active_symbols',
  /** Symbols that have a P3.3 hash, as the position-index job last found them by SCAN, and the watched ones below. */
  p33PositionIndex: 'quantum:gates:positions:p33_symbols',
  /**
   * Ours: the symbols of the P3.3 index the position book reads (handlers/positions/index-job.ts): those
   * whose P3.3 hash was anything but a sound flat figure at the position index's last refresh (scored by
   * that refresh, ms), the watched ones (a permit's: scored by its reservation's expiry), and the member
   * P33_HELD_CURRENT (handlers/positions/book.ts) scored by the moment until which the list stands.
   */
  p33HeldIndex: 'quantum:gates:positions:p33_held',
  /**
   * Ours: symbols of permitted opens, scored by their reservation's expiry (ms): kept in the P3.3
   * index until then, so their fill is in the book as soon as P3.3 writes it, listed or not.
   */
  p33Watch: 'quantum:gates:positions:p33_watch',
  harvestProposal: (symbol: string) => `quantum:harvest:proposal:${symbol}`,
  /** Ours: the stream id of the proposal whose calibration the proposal hash holds (enforce mode), so replicas only move it forward. */
  harvestProposalSourceId: (symbol: string) => `quantum:gates:heat:proposal_source_id:${symbol}`,
  marketState: (symbol: string) => `quantum:state:market:${symbol}`,
  killSwitch: 'quantum:kill',
  /** Ours: the last kill on/off by quantum-gates (event, actor, host, ts, reason, value), so kill status says who and why. */
  killSwitchLastChange: 'quantum:gates:kill:last_change',
  permit: (planId: string) => `quantum:permit:${planId}`,
  governorBlock: (planId: string) => `quantum:governor:block:${planId}`,
  /** Ours: a plan_id that was permitted once (value: the plan's fingerprint), kept far longer than the permit. */
  governorPermitted: (planId: string) => `quantum:gates:permitted:${planId}`,
  budget: (symbol: string) => `quantum:portfolio:budget:${symbol}`,
  clusterStress: (clusterId: string) => `quantum:cluster:stress:${clusterId}`,
  heatByPlan: (planId: string) => `quantum:harvest:heat:by_plan:${planId}`,
  heatLatest: (symbol: string) => `quantum:harvest:heat:latest:${symbol}`,
  heatLatestPlanId: (symbol: string) => `quantum:harvest:heat:latest_plan_id:${symbol}`,
  heatBridgeDedupe: (planId: string) => `quantum:dedupe:p27:${planId}`,
  /** Ours: the stream id of the decision latest:{symbol} holds, so replicas only move it forward (kept out of the original's hash). */
  heatLatestSourceId: (symbol: string) => `quantum:gates:heat:latest_source_id:${symbol}`,
  /** Ours: set (with a reason) when the governor's auto-disarm trips; opens are blocked until it is deleted. */
  governorDisarm: 'quantum:governor:disarm',
  /** The original's auto-disarm record (JSON reason, context, timestamp; TTL 24 h), one per UTC day; the release checklist reads it. */
  governorDisarmOfDay: (date: string) => `quantum:governor:disarm:${date}`,
  /** The original's cooldown record: str(time.time()) of the symbol's last permit (testnet), TTL 1 h. */
  governorLastExec: (symbol: string) => `quantum:governor:last_exec:${symbol}`,
  /** The original's daily total (production): str(float), TTL 24 h, per UTC day. */
  governorDaily: (symbol: string, date: string) => `quantum:governor:daily:${symbol}:${date}`,
  /** Per-symbol permit sequence number: every permit bumps it and guards on it, so replicas serialise permits per symbol. */
  governorSymbolVersion: (symbol: string) => `quantum:governor:version:${symbol}`,
  /** The original's list of execution times per symbol (LPUSH str(time.time()), newest 100, TTL 24 h). */
  governorExecutions: (symbol: string) => `quantum:governor:exec:${symbol}`,
  /**
   * Ours: outstanding permits of opens counted as exposure (issue #23). Sorted set, member the
   * reservation's JSON (plan_id, symbol, notional, ...), score its expiry (ms). The hash tag puts it
   * in one slot with the cap version, so one node answers both reads in order.
   */
  governorReservations: 'quantum:governor:{caps}:reservations',
  /** Ours: bumped by every permit that reserves; each such permit guards on the value its decision read. */
  governorCapsVersion: 'quantum:governor:{caps}:version',
  /** Upstream's per-symbol exit lock (857b05342): production closes in flight; released by the position's fill. */
  governorExitLock: (symbol: string) => `quantum:exit:lock:${symbol}`,
  /** Ours: sorted set of governor errors (score = ms) since the last disarm, for auto-disarm. */
  governorErrors: 'quantum:governor:errors',
  /** The budget engine's last-known-good portfolio state, kept in Redis so handlers stay stateless. */
  budgetPortfolioLkg: 'quantum:portfolio:state:lkg',
  /** Ours: a followed decision (its exposure, entry price, worst sample so far). */
  outcomeFollowUp: (id: string) => `quantum:gates:outcome:${id}`,
  /** Ours: marks one horizon's sample of a followed decision as written (idempotent samples). */
  outcomeSample: (id: string, horizon: string) => `quantum:gates:outcome:${id}:sample:${horizon}`,
  /** Ours: followed decisions by the time of their last sample, to bound how many are pending. */
  outcomePending: 'quantum:gates:outcome:pending',
  /** Ours: bumped by every follow-up that takes a pending slot, guarded in its commit (OUTCOME_MAX_PENDING holds atomically). */
  outcomePendingVersion: 'quantum:gates:outcome:pending:version',
  /** Ours: each followed decision's samples still to take (a sample job's data as JSON), scored by when each is due (ms). */
  outcomeDue: 'quantum:gates:outcome:due',
} as const;
