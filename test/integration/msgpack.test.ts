import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessagePack } from '../../runtime/engine/msgpack.js';
import { usePrivateRedis } from '../support/redis-server.js';

type Value = string | readonly Value[];

function write(packed: MessagePack, value: Value): void {
  if (typeof value === 'string') return packed.string(value);
  packed.array(value.length);
  for (const element of value) write(packed, element);
}

function strings(value: Value): string[] {
  return typeof value === 'string' ? [value] : value.flatMap(strings);
}

/** `value` with each string as the bytes ioredis sends for it (UTF-8, a lone surrogate as U+FFFD). */
const utf8 = (value: Value): unknown => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value.map(utf8));

// ARGV: how many chunks, the chunks, then every string their values hold sent as ioredis sends it.
// The chunks are read as run-batch.lua reads them.
const UNPACK = `
local n = tonumber(ARGV[1])
local unpacked, sent = {}, {}
for a = 2, n + 1 do
  local chunk = cmsgpack.unpack(ARGV[a])
  for i = 1, #chunk do unpacked[#unpacked + 1] = chunk[i] end
end
for a = n + 2, #ARGV do sent[#sent + 1] = ARGV[a] end
return {unpacked, sent}`;

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const units = [
  fc.constant('grapheme-ascii' as const),
  fc.constant('binary-ascii' as const),
  fc.constant('grapheme' as const),
  fc.constant('binary' as const),
  fc.constant(codeUnit),
];
const string = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(...units).chain((unit) => fc.string({ unit, maxLength: 40 })) },
  { weight: 1, arbitrary: fc.oneof(...units).chain((unit) => fc.string({ unit, minLength: 60, maxLength: 300 })) },
);
const { value } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof({ maxDepth: 4 }, string, fc.array(tie('value'), { maxLength: 20 })),
}));

const ascii = (bytes: number): string => 'a'.repeat(bytes);
const EXAMPLES: Value[][] = [
  [''],
  [[], [[]], [''], [[[['deep']]]]],
  // Around the headers' bounds: fixstr below 32 bytes, then str 32.
  [ascii(31), ascii(32), ascii(255), ascii(256), ascii(65_535), ascii(65_536), ascii(70_000)],
  // Short but not ASCII (copied in part before the longer path takes over), and multi-byte lengths.
  [`${ascii(30)}é`, 'é', 'é'.repeat(16), '€'.repeat(10), '😀'.repeat(8), `${'€'.repeat(21_845)}`],
  // Lone surrogates, alone, inside, and split pairs.
  ['\ud800', '\udfff', `a\udc00b`, `${ascii(40)}\ud83d`, '\ude00\ud83d', [`\ud83d${ascii(3)}`]],
  // Arrays past 15 (fixarray's bound) and 65,535 elements (array 16's).
  [Array.from({ length: 16 }, (_, i) => String(i)), Array.from({ length: 65_536 }, (_, i) => (i % 7 === 0 ? 'é' : String(i)))],
];

describe('MessagePack: what cmsgpack unpacks in Redis', () => {
  const redis = usePrivateRedis();

  it('is, for any arrays of strings, the strings ioredis sends', async () => {
    await fc.assert(
      // Chunks of any bound, so the values also cross chunks (a bound of 0: one value a chunk).
      fc.asyncProperty(fc.array(value, { maxLength: 8 }), fc.integer({ min: 0, max: 200 }), async (values, chunkBytes) => {
        const packed = new MessagePack(chunkBytes);
        for (const v of values) {
          write(packed, v);
          packed.end();
        }
        const sent = values.flatMap(strings);
        const chunks = packed.values();
        const args = [String(chunks.length), ...chunks, ...sent];
        const [unpacked, received] = (await redis.client.callBuffer('EVAL', [UNPACK, 0, ...args])) as [unknown[], Buffer[]];
        expect(received).toEqual(sent.map((s) => Buffer.from(s, 'utf8')));
        expect(unpacked).toEqual(values.map(utf8));
      }),
      { examples: EXAMPLES.map((values) => [values, 16 * 2 ** 20] as [Value[], number]) },
    );
  });
});
