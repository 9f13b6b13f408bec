import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../runtime/engine/decide.js';
import { describeIssues, readableDeadLetterError } from '../../cli/validation-issues.js';

describe('one way to say what a validation found', () => {
  const parsed = z.object({ qty: z.string().regex(/^\d+$/, 'must be a decimal number'), symbol: z.string() }).safeParse({ qty: 'x' });

  it('names each path with its message, from zod issues or from the JSON a dead letter keeps', () => {
    expect(describeIssues(parsed.error!.issues)).toBe(
      'qty: must be a decimal number; symbol: Invalid input: expected string, received undefined',
    );
    expect(describeIssues([{ path: '', message: 'needs an action' }])).toBe('(entry): needs an action');
  });

  it("reads an invalid input's error as text, and leaves any other error as it is", () => {
    expect(readableDeadLetterError('invalid_input', formatIssues(parsed.error!))).toBe(describeIssues(parsed.error!.issues));
    expect(readableDeadLetterError('handler_failed', 'Error: boom')).toBe('Error: boom');
    expect(readableDeadLetterError('invalid_input', 'not json')).toBe('not json');
    expect(readableDeadLetterError('invalid_input', '[{"nope":1}]')).toBe('[{"nope":1}]');
  });
});
