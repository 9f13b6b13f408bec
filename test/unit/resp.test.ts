import fc from 'fast-check';
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../runtime/engine/resp.js';
import { protocolArgument } from '../support/protocol-arguments.js';

/** What ioredis sends for the command: its toWritable string, encoded as the socket does (UTF-8). */
function ioredisBytes(name: string, args: string[]): Buffer {
  const command = new Command(name, args);
  const writable = command.toWritable(undefined as never);
  return typeof writable === 'string' ? Buffer.from(writable, 'utf8') : writable;
}

const text = protocolArgument;

describe('encodeCommand (issue #24 item 5)', () => {
  it('writes the bytes ioredis writes, for any arguments', () => {
    fc.assert(
      fc.property(fc.constantFrom('eval', 'xack', 'xadd', 'evalsha'), fc.array(text, { maxLength: 60 }), (name, args) => {
        expect(encodeCommand(name, args).equals(ioredisBytes(name, args))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('sizes short non-ASCII arguments when it meets them, wherever they stand among ASCII ones', () => {
    const ascii = Array.from({ length: 50 }, (_, i) => `field_${i}`);
    for (const args of [
      Array.from({ length: 100 }, (_, i) => '€'.repeat(1 + (i % 10))),
      [...ascii, 'é', ...ascii, '😀'.repeat(16), 'x'.repeat(40), '\uD800'],
      ['ß'.repeat(40), 'ü', 'a'.repeat(32), 'ä'.repeat(32), 'a'.repeat(33)],
    ])
      expect(encodeCommand('xadd', args).equals(ioredisBytes('xadd', args))).toBe(true);
  });

  it('handles commands longer than its kept length table, and argument counts of every digit count', () => {
    for (const count of [0, 9, 10, 99, 100, 1023, 1024, 5000]) {
      const args = Array.from({ length: count }, (_, i) => `v${i}`);
      expect(encodeCommand('eval', args).equals(ioredisBytes('eval', args))).toBe(true);
    }
  });
});
