import { describe, expect, it } from 'vitest';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import { keys } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

describe('position-snapshot handler', () => {
  it('materialises the latest position of a symbol and indexes it', async () => {
    const run = await runHandler(positionSnapshot, {
      symbol: 'ETHUSDT',
      position_notional_usd: '1800',
      sigma: '0.15',
      qty: '0.5',
      mark_price: '3600',
    });
    expect(run.recorder.effects).toEqual([
      {
        op: 'putHash',
        key: keys.position('ETHUSDT'),
        replace: true,
        // The seeds' format stands until its producer's 0 (no TTL); the balance tracker's ages out.
        fields: {
          symbol: 'ETHUSDT',
          position_notional_usd: '1800',
          sigma: '0.15',
          qty: '0.5',
          mark_price: '3600',
          updated_at: String(run.ctx.meta.producedAt),
          source_id: run.ctx.meta.id,
        },
      },
      // A snapshot of no side is the word on the whole symbol: no leg's row outlives it (the book
      // reads legs' rows only beside a symbol's row that names a side).
      { op: 'deleteKey', key: keys.positionLeg('ETHUSDT', 'LONG') },
      { op: 'deleteKey', key: keys.positionLeg('ETHUSDT', 'SHORT') },
      { op: 'addToSet', key: keys.activePositions, member: 'ETHUSDT' },
    ]);
  });

  it('gives a balance-tracker snapshot the rest of POSITION_MAX_AGE_SEC from when it was produced, and drops one already older', async () => {
    const tracker = { symbol: 'SOLUSDT', side: 'LONG', position_qty: '10', mark_price: '150' };
    const fresh = await runHandler(positionSnapshot, tracker);
    expect(fresh.recorder.effects[0]).toMatchObject({
      op: 'putHash',
      key: keys.position('SOLUSDT'),
      fields: { position_notional_usd: '1500' },
    });
    const ttl = (fresh.recorder.effects[0] as { ttlSec?: number }).ttlSec;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    const late = await runHandler(positionSnapshot, tracker, { meta: { producedAt: fresh.ctx.now() - 121_000 } });
    // Its leg's row goes with the symbol's; the other leg's stands (the position index prunes the symbol).
    expect(late.recorder.effects).toEqual([
      { op: 'deleteKey', key: keys.position('SOLUSDT') },
      { op: 'deleteKey', key: keys.positionLeg('SOLUSDT', 'LONG') },
    ]);
  });

  it('takes volatility when sigma is absent', async () => {
    const run = await runHandler(positionSnapshot, { symbol: 'BTCUSDT', position_notional_usd: '-2500', volatility: '0.3' });
    expect(run.recorder.effects[0]).toMatchObject({ fields: { sigma: '0.3', position_notional_usd: '-2500' } });
  });

  it('removes the symbol when its notional is zero', async () => {
    const run = await runHandler(positionSnapshot, { symbol: 'ETHUSDT', position_notional_usd: '0' });
    // A zero without a side is the whole symbol's: both legs' rows go too.
    expect(run.recorder.effects).toEqual([
      { op: 'deleteKey', key: keys.position('ETHUSDT') },
      { op: 'deleteKey', key: keys.positionLeg('ETHUSDT', 'LONG') },
      { op: 'deleteKey', key: keys.positionLeg('ETHUSDT', 'SHORT') },
      { op: 'removeFromSet', key: keys.activePositions, member: 'ETHUSDT' },
      // Its producer's report that the symbol is flat: the book forgets its legs.
      { op: 'putHash', key: keys.positionsHeld, fields: { 'ETHUSDT:LONG': '', 'ETHUSDT:SHORT': '' } },
    ]);
  });

  // The balance tracker writes mark_price = entry_price when Binance gives no entry price
  // (microservices/balance_tracker/balance_tracker.py at 73fab1f55, lines 206-209 and 234).
  it('keeps a balance-tracker position with mark 0 as a row without a notional, aged like any of its rows', async () => {
    const run = await runHandler(positionSnapshot, { symbol: 'SOLUSDT', side: 'SHORT', position_qty: '10.0', mark_price: '0.0' });
    expect(run.recorder.effects).toEqual([
      {
        op: 'putHash',
        key: keys.position('SOLUSDT'),
        replace: true,
        ttlSec: 120,
        fields: {
          symbol: 'SOLUSDT',
          qty: '10',
          mark_price: '0',
          side: 'SHORT',
          updated_at: String(run.ctx.meta.producedAt),
          source_id: run.ctx.meta.id,
        },
      },
      expect.objectContaining({ op: 'putHash', key: keys.positionLeg('SOLUSDT', 'SHORT'), ttlSec: 120 }),
      { op: 'addToSet', key: keys.activePositions, member: 'SOLUSDT' },
    ]);
    // Closed (quantity 0) or already too old: removed as before, that leg only.
    const flat = await runHandler(positionSnapshot, { symbol: 'SOLUSDT', side: 'LONG', position_qty: '0.0', mark_price: '0.0' });
    expect(flat.recorder.effects).toEqual([
      { op: 'deleteKey', key: keys.position('SOLUSDT') },
      { op: 'deleteKey', key: keys.positionLeg('SOLUSDT', 'LONG') },
    ]);
  });

  it('ignores a snapshot older than the one already applied (replicas finishing out of order)', async () => {
    const run = await runHandler(
      positionSnapshot,
      { symbol: 'ETHUSDT', position_notional_usd: '100', sigma: '0.1' },
      { redis: { strings: { [keys.positionAppliedId('ETHUSDT')]: '9999999999999-0' } } },
    );
    expect(run.recorder.effects).toEqual([]);
    expect(run.recorder.condition).toBeUndefined();
    expect(run.metrics.get('quantum_position_snapshots_stale_total')).toBe(1);
  });

  it('asks the commit to apply a snapshot only if no later one was applied meanwhile, counting it stale otherwise', async () => {
    const run = await runHandler(positionSnapshot, { symbol: 'ETHUSDT', position_notional_usd: '100', sigma: '0.1' });
    expect(run.recorder.condition).toMatchObject({ key: keys.positionAppliedId('ETHUSDT'), id: run.ctx.meta.id });
    run.recorder.condition!.onSkip!();
    run.commit();
    expect(run.metrics.get('quantum_position_snapshots_stale_total')).toBe(1);
  });

  it.each([
    [{ position_notional_usd: '1' }, 'symbol'],
    [{ symbol: 'ETHUSDT' }, 'position_notional_usd'],
    [{ symbol: 'ETHUSDT', position_notional_usd: 'lots' }, 'position_notional_usd'],
    [{ symbol: 'ETHUSDT', position_notional_usd: '1', sigma: '-1' }, 'sigma'],
  ])('rejects %o (bad %s)', (fields, path) => {
    const result = positionSnapshot.input.safeParse(fields);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
