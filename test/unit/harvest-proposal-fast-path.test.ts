import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastHarvestProposal, harvestProposalSchema } from '../../schemas/harvest-proposal.js';
import { fieldsToRecord } from '../../schemas/fields.js';

/** zod alone: a params object takes the schema's own path, never the fast one. */
const zodParse = (data: unknown) => harvestProposalSchema.safeParse(data, {});

const fieldNames = fc.constantFrom(
  'plan_id',
  'symbol',
  'action',
  'harvest_action',
  'trace_id',
  'reason',
  'kill_score',
  'new_sl_proposed',
  'computed_at_utc',
  'extra',
  'qty',
  '__proto__',
  'constructor',
  'toString',
  'proposedAction',
);
const values = fc.oneof(
  fc.constantFrom('', ' ', 'BTCUSDT', ' ethusdt ', 'FULL_CLOSE', 'PARTIAL_50', 'p-1', 'BTC USDT', 'X', 'A'.repeat(40), '1.5'),
  fc.string(),
);
/** Stream entries as the runtime hands them to the schema: flat field lists made into records. */
const entries = fc
  .array(fc.tuple(fc.oneof(fieldNames, fc.string()), values), { maxLength: 14 })
  .map((pairs) => fieldsToRecord(pairs.flat()));
/** And whatever else could come: plain objects, non-strings, arrays, null. */
const others = fc.oneof(
  fc.dictionary(fc.oneof(fieldNames, fc.string()), fc.oneof(values, fc.integer(), fc.constant(undefined), fc.constant(null))),
  fc.constantFrom(null, undefined, 'BTCUSDT', 42, [], [['symbol', 'BTCUSDT']]),
);

describe('the harvest proposal fast path (issue #24 item 5)', () => {
  it('accepts only what zod accepts, and answers the same object with its fields in the same order', () => {
    fc.assert(
      fc.property(fc.oneof(entries, others), (data) => {
        const fast = fastHarvestProposal(data);
        const zod = zodParse(data);
        if (fast === undefined) return;
        expect(zod.success).toBe(true);
        expect(fast).toStrictEqual(zod.data);
        expect(Object.keys(fast)).toEqual(Object.keys(zod.data!));
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the common proposals (the seeds’ and the kernel’s), and the schema answers them as zod does', () => {
    const seeds = fieldsToRecord(['plan_id', 'p-1', 'symbol', 'BTCUSDT', 'action', 'FULL_CLOSE', 'trace_id', 't-1', 'reason', 'tp_hit']);
    const kernel = fieldsToRecord([
      'symbol',
      ' ethusdt ',
      'harvest_action',
      'PARTIAL_50',
      'kill_score',
      '0.4',
      'computed_at_utc',
      'x',
      'r_net',
      '1.2',
    ]);
    for (const data of [seeds, kernel]) {
      expect(fastHarvestProposal(data)).toBeDefined();
      expect(harvestProposalSchema.safeParse(data)).toStrictEqual(zodParse(data));
    }
  });

  it('leaves everything zod refuses to zod, with its messages', () => {
    fc.assert(
      fc.property(fc.oneof(entries, others), (data) => {
        const zod = zodParse(data);
        if (zod.success) return;
        expect(fastHarvestProposal(data)).toBeUndefined();
        expect(harvestProposalSchema.safeParse(data).error?.issues).toEqual(zod.error.issues);
      }),
      { numRuns: 3000 },
    );
  });
});
