import { describe, expect, it } from 'vitest';
import { MessagePack } from '../../runtime/engine/msgpack.js';

type Value = string | readonly Value[];

/** Reads back what MessagePack writes (fixstr, str 32, array 32), all of `bytes` as one value. */
function decode(bytes: Buffer): Value {
  let at = 0;
  const read = (): Value => {
    const head = bytes[at]!;
    if (head >= 0xa0 && head <= 0xbf) {
      at += 1 + (head & 0x1f);
      return bytes.toString('utf8', at - (head & 0x1f), at);
    }
    const n = bytes.readUInt32BE(at + 1);
    at += 5;
    if (head === 0xdd) return Array.from({ length: n }, read);
    expect(head).toBe(0xdb);
    at += n;
    return bytes.toString('utf8', at - n, at);
  };
  const value = read();
  expect(at).toBe(bytes.length);
  return value;
}

describe('MessagePack', () => {
  it('keeps every value whole while its buffer grows past its first 2 KB', () => {
    // Strings of every length from 0 to 300 bytes, short non-ASCII ones among them, so the buffer
    // grows inside headers, fixstr copies and longer strings alike.
    const values: Value[] = Array.from({ length: 300 }, (_, i) => [
      `item:${i}`,
      'é'.repeat(i % 20),
      [`${'a'.repeat(i % 33)}${i % 3 === 0 ? 'é' : ''}`, 'x'.repeat(i)],
    ]);
    const packed = new MessagePack();
    for (const [key, short, [mixed, long]] of values as [string, string, [string, string]][]) {
      packed.array(3);
      packed.string(key);
      packed.string(short);
      packed.array(2);
      packed.string(mixed);
      packed.string(long);
      packed.end();
    }
    const out = packed.values();
    expect(out).toHaveLength(1);
    expect(out[0]!.length).toBeGreaterThan(16 * 2048);
    expect(decode(out[0]!)).toEqual(values);
  });

  it('closes a chunk at its bound: no chunk of two items or more passes it, and every item arrives once, in order', () => {
    const sizes = [10, 3, 40, 1, 1, 90, 2, 200, 5, 5, 5, 5, 5, 5, 60];
    for (const bound of [0, 1, 20, 64, 100, 1000]) {
      const packed = new MessagePack(bound);
      sizes.forEach((size, i) => {
        packed.array(2);
        packed.string(String(i));
        packed.string('y'.repeat(size));
        packed.end();
      });
      const chunks = packed.values();
      const items = chunks.map(decode) as Value[][];
      expect(items.flat()).toEqual(sizes.map((size, i) => [String(i), 'y'.repeat(size)]));
      chunks.forEach((chunk, c) => {
        // Its items' bytes, behind a 5-byte header.
        if (items[c]!.length > 1) expect(chunk.length - 5).toBeLessThanOrEqual(bound);
      });
      // Asked again (a retried commit), the same chunks.
      expect(packed.values()).toEqual(chunks);
    }
  });

  it('has no chunk without items', () => {
    expect(new MessagePack().values()).toEqual([]);
  });
});
