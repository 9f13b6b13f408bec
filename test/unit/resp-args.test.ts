import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RespArgs, SizeHint } from '../../runtime/engine/resp-args.js';
import { encodeCommand } from '../../runtime/engine/resp.js';
import { protocolArgument } from '../support/protocol-arguments.js';

const text = protocolArgument;

/** A command as a list of plain arguments and of commands (each written with its count first, some taken back). */
const step = fc.oneof(
  text.map((t) => ({ kind: 'arg' as const, t })),
  fc.record({ kind: fc.constant('command' as const), args: fc.array(text, { maxLength: 12 }), keep: fc.boolean() }),
);

const padded = (n: number) => String(n).padStart(10, '0');

describe('RespArgs (issue #24 item 5)', () => {
  it('writes the bytes encodeCommand writes for the same arguments, counts zero-padded, taken-back commands left out', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), fc.array(step, { maxLength: 20 }), (head, steps) => {
        const resp = new RespArgs();
        const flat: string[] = [];
        const kept: string[][] = [];
        for (const s of steps) {
          if (s.kind === 'arg') {
            resp.add(s.t);
            flat.push(s.t);
            continue;
          }
          resp.begin();
          for (const a of s.args) resp.add(a);
          resp.end(s.keep);
          if (s.keep) {
            flat.push(padded(s.args.length), ...s.args);
            kept.push(s.args);
          }
        }
        expect(resp.count).toBe(flat.length);
        expect(encodeCommand('evalsha', head, resp).equals(encodeCommand('evalsha', [...head, ...flat]))).toBe(true);
        // What a batch too large for the script reads back: the text of each kept command (a lone
        // surrogate comes back as U+FFFD, which is also what was written for it).
        const back = resp.commandStarts.map((start, c) => resp.read(start, resp.commandSizes[c]!));
        expect(back.map((args) => encodeCommand('x', args))).toEqual(kept.map((args) => encodeCommand('x', args)));
      }),
      { numRuns: 1500 },
    );
  });

  it('fills in a count reserved before its arguments, whatever its size', () => {
    for (const n of [0, 7, 10, 999, 123_456_789]) {
      const resp = new RespArgs();
      const at = resp.reserveCount();
      resp.add('after');
      resp.fillCount(at, n);
      expect(resp.bytes.toString('latin1')).toBe(`$10\r\n${padded(n)}\r\n$5\r\nafter\r\n`);
    }
    expect(() => new RespArgs().fillCount(new RespArgs().reserveCount(), 10 ** 10)).toThrow(RangeError);
  });

  it("sends a command's head written into its headroom as the same bytes, with no copy of what follows; a head too large is refused", () => {
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 6 }),
        fc.array(text, { maxLength: 30 }),
        fc.integer({ min: 0, max: 400 }),
        (head, args, room) => {
          const resp = new RespArgs(new SizeHint(), room);
          for (const a of args) resp.add(a);
          const headBytes = encodeCommand('evalsha', head, { count: resp.count, bytes: Buffer.alloc(0) });
          const sent = resp.withHead(headBytes);
          if (headBytes.length > room) {
            expect(sent).toBeUndefined();
            return;
          }
          expect(sent!.equals(encodeCommand('evalsha', [...head, ...args]))).toBe(true);
          expect(sent!.buffer).toBe(resp.bytes.buffer);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('starts at about the size its owner last wrote, and grows past it without losing what it wrote', () => {
    const hint = new SizeHint();
    const big = new RespArgs(hint, 100);
    for (let i = 0; i < 10_000; i++) big.add(`value-${i}`);
    big.settleSize();
    expect(hint.bytes).toBe(big.bytes.length);
    // A smaller batch after it lowers the hint a quarter at a time, not at once.
    const small = new RespArgs(hint, 100);
    small.add('x');
    small.settleSize();
    expect(hint.bytes).toBe(Math.floor(big.bytes.length * 0.75));
  });

  it('writes binary bytes as they are, CR, LF and invalid UTF-8 included', () => {
    const resp = new RespArgs();
    const raw = Buffer.from([0xff, 0x0d, 0x0a, 0x00, 0xc3]);
    resp.add('a');
    resp.addBytes(raw);
    expect(resp.count).toBe(2);
    expect(resp.bytes.equals(Buffer.concat([Buffer.from('$1\r\na\r\n$5\r\n'), raw, Buffer.from('\r\n')]))).toBe(true);
  });

  it('grows past its first buffer without losing what it wrote', () => {
    const resp = new RespArgs();
    const args = Array.from({ length: 20_000 }, (_, i) => `value-${i}-${'x'.repeat(i % 50)}`);
    for (const a of args) resp.add(a);
    expect(encodeCommand('eval', [], resp).equals(encodeCommand('eval', args))).toBe(true);
  });

  it('reserves room for the length of a long argument, up to four digits, wherever it falls in the buffer', () => {
    // A first buffer of 1,280 bytes: a filler of each length puts the long argument's end at each
    // byte near the buffer's end, where a reservation one digit short would cut it.
    for (const long of ['a'.repeat(999), 'a'.repeat(1000), 'a'.repeat(1024)]) {
      for (let filler = 0; filler < 300; filler++) {
        const hint = new SizeHint();
        hint.bytes = 1024;
        const resp = new RespArgs(hint);
        const args = ['x'.repeat(filler), long];
        for (const a of args) resp.add(a);
        expect(encodeCommand('eval', [], resp).equals(encodeCommand('eval', args))).toBe(true);
      }
    }
  });
});
