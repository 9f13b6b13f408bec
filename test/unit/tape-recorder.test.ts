import { describe, expect, it } from 'vitest';
import type { TapeRecord } from '../../app/tape/format.js';
import { decisionTape } from '../../app/tape/recorder.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import { Delivery, HANDLED } from '../../runtime/engine/delivery.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import { directReads } from '../../runtime/engine/execute.js';

/** A reader whose one read is the key watch's answer, as the book's first read. */
const reader = {
  keysToRead: (): Promise<readonly string[]> => Promise.resolve(['quantum:state:positions:BTCUSDT']),
} as unknown as RedisReader;

function delivery(id: string): Delivery & { recorder: EffectRecorder & { meta: Delivery['meta'] } } {
  const d = new Delivery({ id, raw: { id }, producedAt: 1 }, { id }, 1, id);
  d.recorder = Object.assign(new EffectRecorder(), { meta: d.meta });
  return d as Delivery & { recorder: EffectRecorder & { meta: Delivery['meta'] } };
}

/** A tape whose records land in `written`, and a batch state loaded through it (one read: the key watch's). */
async function tapeWithState() {
  const written: TapeRecord[] = [];
  const tape = decisionTape(
    (_gate, records) => written.push(...records),
    (_gate, error) => {
      throw error;
    },
  );
  const reads = tape.wrap(directReads(reader, () => 1_000));
  const load = reads.batch();
  await load.redis.keysToRead!('p33-positions');
  return { written, tape, reads, state: load.loaded({}) };
}

describe('the decision tape: a batch state is taped on a record that is written', () => {
  it('a batch whose first delivery is not taped (skipped, left pending) puts its state on the next record', async () => {
    const { written, tape, reads, state } = await tapeWithState();
    const [skipped, decided] = [delivery('1-0'), delivery('2-0')];
    for (const d of [skipped, decided]) reads.message(d.recorder, state, reader);
    decided.outcome = HANDLED;
    tape.committed('heat-gate', [skipped, decided]);
    expect(written.map((r) => r.id)).toEqual(['2-0']);
    expect(written[0]!.state?.calls).toEqual([['keysToRead', ['p33-positions'], ['quantum:state:positions:BTCUSDT']]]);
  });

  it('a batch state is taped once, on its first written record', async () => {
    const { written, tape, reads, state } = await tapeWithState();
    const both = [delivery('1-0'), delivery('2-0')];
    for (const d of both) {
      reads.message(d.recorder, state, reader);
      d.outcome = HANDLED;
    }
    tape.committed('heat-gate', both);
    expect(written.map((r) => r.state !== undefined)).toEqual([true, false]);
  });
});
