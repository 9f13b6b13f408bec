import { describe, expect, it } from 'vitest';
import { MISS, ReadCache } from '../../runtime/host/read-cache.js';
import type { ReadCommand } from '../../runtime/contract/index.js';

const MARK: ReadCommand = ['HMGET', 'quantum:ticker:AUSDT', 'markPrice', 'timestamp'];
const SIGMA: ReadCommand = ['HGET', 'quantum:ticker:AUSDT', 'sigma'];
const answer = (reply: unknown) => () => Promise.resolve(reply);
const refused = (error: unknown) => error instanceof Error && /^WRONGTYPE/.test(error.message);

/** A send that answers when told: the read is in flight until then. */
function held(reply: unknown): { send: () => Promise<unknown>; answer: () => void } {
  let answer = () => undefined as void;
  const promise = new Promise<unknown>((resolve) => (answer = () => resolve(reply)));
  return { send: () => promise, answer };
}

describe('the key watch’s read cache (runtime/host/read-cache.ts)', () => {
  it('keeps a reply per read of a key until the key is written', async () => {
    const cache = new ReadCache();
    expect(cache.get(MARK)).toBe(MISS);
    expect(await cache.read(MARK, answer(['1.5', '100']), refused)).toEqual(['1.5', '100']);
    await cache.read(SIGMA, answer('0.02'), refused);
    expect(cache.get(MARK)).toEqual(['1.5', '100']);
    expect(cache.get(SIGMA)).toBe('0.02');
    cache.written('quantum:ticker:BUSDT');
    expect(cache.get(MARK)).toEqual(['1.5', '100']);
    cache.written('quantum:ticker:AUSDT');
    expect(cache.get(MARK)).toBe(MISS);
    expect(cache.get(SIGMA)).toBe(MISS);
  });

  it('tells reads of one key apart by command and every argument, and keeps a nil reply', async () => {
    const cache = new ReadCache();
    const key = 'quantum:state:market:AUSDT';
    const reads: ReadCommand[] = [
      ['HMGET', key, 'mark_price', 'timestamp'],
      ['HMGET', key, 'mark_price'],
      ['HMGET', key, 'timestamp', 'mark_price'],
      ['HGET', key, 'mark_price'],
      ['HGET', key, 'sigma'],
    ];
    for (const [i, read] of reads.entries()) await cache.read(read, answer(i === 4 ? null : `reply ${i}`), refused);
    // Fresh arrays equal to the kept reads find their own replies, none another's.
    for (const [i, read] of reads.entries()) expect(cache.get([...read] as unknown as ReadCommand)).toBe(i === 4 ? null : `reply ${i}`);
    expect(cache.get(['HMGET', key, 'timestamp'])).toBe(MISS);
    expect(cache.get(['EXISTS', key])).toBe(MISS);
    // A read sent again replaces its own reply only.
    await cache.read(['HGET', key, 'mark_price'], answer('again'), refused);
    expect(cache.get(['HGET', key, 'mark_price'])).toBe('again');
    expect(cache.get(['HMGET', key, 'mark_price'])).toBe('reply 1');
    expect(cache.size).toBe(1);
  });

  it('does not keep a reply whose key was written while it was in flight, nor any after a clear', async () => {
    const cache = new ReadCache();
    const first = held(['1', '1']);
    const reading = cache.read(MARK, first.send, refused);
    cache.written(MARK[1]);
    first.answer();
    // The caller still gets what Redis answered (a read sent now), but it is not kept: it may predate the write.
    expect(await reading).toEqual(['1', '1']);
    expect(cache.get(MARK)).toBe(MISS);
    const second = held(['2', '2']);
    const again = cache.read(MARK, second.send, refused);
    cache.clear();
    second.answer();
    await again;
    expect(cache.get(MARK)).toBe(MISS);
  });

  it('keeps a refusal of the key, never a failure that says nothing of it', async () => {
    const cache = new ReadCache();
    const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    await expect(cache.read(MARK, () => Promise.reject(wrongType), refused)).rejects.toBe(wrongType);
    expect(cache.get(MARK)).toBe(wrongType);
    await expect(cache.read(SIGMA, () => Promise.reject(new Error('Connection is closed.')), refused)).rejects.toThrow('closed');
    expect(cache.get(SIGMA)).toBe(MISS);
  });

  it('is bounded: a key beyond maxKeys lets everything kept go, and is kept', async () => {
    const cache = new ReadCache(10);
    for (let i = 0; i < 10; i++) await cache.read(['HGET', `quantum:ticker:X${i}`, 'sigma'], answer('1'), refused);
    expect(cache.size).toBe(10);
    // Another read of a key kept adds no key.
    await cache.read(['HMGET', 'quantum:ticker:X0', 'markPrice'], answer(['1']), refused);
    expect(cache.size).toBe(10);
    await cache.read(MARK, answer(['1', '1']), refused);
    expect(cache.size).toBe(1);
    expect(cache.get(MARK)).toEqual(['1', '1']);
    expect(cache.get(['HGET', 'quantum:ticker:X0', 'sigma'])).toBe(MISS);
  });
});
