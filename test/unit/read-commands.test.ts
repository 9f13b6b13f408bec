import { describe, expect, it } from 'vitest';
import { refusedKey, settledReplies } from '../../handlers/positions/read-commands.js';

const wrongType = () => new Error('WRONGTYPE Operation against a key holding the wrong kind of value');

describe('replies of reads sent together: only a key refusal stands for its key', () => {
  it('keeps a key of another type in its place, the others read as ever', () => {
    const replies = ['1', wrongType(), null];
    expect(settledReplies(replies)).toBe(replies);
    expect(refusedKey(replies[1])).toBe(true);
  });

  it.each([
    ['a command aborted with its connection', 'Command aborted due to connection close'],
    ['a lost connection', 'Connection is closed.'],
    ['a timeout', 'Command timed out'],
    ['an ACL refusal', "NOPERM this user has no permissions to access the 'x' key"],
    ['a failover', "READONLY You can't write against a read only replica."],
    ['an error no reader understands', 'ERR something nobody planned for'],
  ])('throws %s, wherever it stands: no key is "unreadable" or "absent" on it', (_what, message) => {
    const error = new Error(message);
    expect(refusedKey(error)).toBe(false);
    expect(() => settledReplies([wrongType(), '1', error])).toThrow(error);
  });
});
