import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTapeEntry, entryAsWritten, TAPE_VERSION, type TapeRecord } from '../../app/tape/format.js';
import { jsonInSlices } from '../../app/tape/json-in-slices.js';

/** Values JSON writes, and the ones it leaves out or writes as null (undefined, a function) inside them. */
const loose = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constant(undefined),
    fc.constant(() => 1),
    fc.constant(-0),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 6 }),
  ),
})).value;

const call = fc.tuple(fc.constantFrom('get', 'hmget', 'eval_ro'), fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), loose);
const reads = fc.record({ calls: fc.array(call, { maxLength: 40 }), clock: fc.array(fc.integer(), { maxLength: 3 }) });
const record = fc.record(
  {
    v: fc.constant(TAPE_VERSION),
    gate: fc.constantFrom('position-index', 'risk-budget', 'governor'),
    id: fc.string({ maxLength: 8 }),
    producedAt: fc.integer(),
    raw: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
    data: loose,
    outcome: fc.constantFrom('handled', 'fallback', 'dead-letter:schema'),
    batch: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
    state: fc.option(reads, { nil: undefined }),
    reads,
    effects: fc.array(loose, { maxLength: 20 }),
    jobs: fc.array(loose, { maxLength: 3 }),
  },
  { requiredKeys: ['v', 'gate', 'id', 'producedAt', 'raw', 'outcome', 'reads', 'effects', 'jobs'] },
) as fc.Arbitrary<TapeRecord>;

describe('jsonInSlices', () => {
  it("writes JSON.stringify's text exactly, whatever the records, at any slice size and depth", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 5 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 6 }),
        async (records, every, depth) => {
          const turns = { count: 0 };
          const json = await jsonInSlices(entryAsWritten(records), async () => void (turns.count += 1), every, depth);
          expect(json).toBe(encodeTapeEntry(records));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the thread back every `every` parts: a tick record of 4,000 reads in slices of 256', async () => {
    const tick: TapeRecord = {
      v: TAPE_VERSION,
      gate: 'position-index',
      id: 'tick',
      producedAt: 1,
      raw: {},
      outcome: 'handled',
      reads: {
        calls: Array.from({ length: 4_000 }, (_, i) => ['hmget', [`quantum:position:snapshot:SYM${i}USDT`, 'position_amt'], [null]]),
        clock: [1],
      },
      effects: [],
      jobs: [],
    };
    let turns = 0;
    const json = await jsonInSlices(entryAsWritten([tick]), async () => void (turns += 1), 256, 5);

    expect(json).toBe(encodeTapeEntry([tick]));
    // 4,000 calls, the record's 9 fields and its reads' 2, the one record, the entry's 3 fields (writer, number, records): 4,015 parts.
    expect(turns).toBe(Math.floor(4_015 / 256));
  });
});
