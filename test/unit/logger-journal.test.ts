import { describe, expect, it } from 'vitest';
import { stdoutIsJournal, withJournalPriority } from '../../app/logging.js';

describe('journald priorities from pino levels', () => {
  it.each([
    [10, 7],
    [20, 7],
    [30, 6],
    [40, 4],
    [50, 3],
    [60, 2],
  ])('prefixes a level-%i line with <%i>', (level, priority) => {
    const line = `{"level":${level},"time":"2026-11-22T10:00:00.000Z","msg":"x"}\n`;

    expect(withJournalPriority(line)).toBe(`<${priority}>${line}`);
  });

  it('leaves a line that is not a pino record alone', () => {
    expect(withJournalPriority('plain text\n')).toBe('plain text\n');
  });

  it('prefixes only when the standard output is the journal stream systemd names', () => {
    const stdout = { dev: 64768, ino: 123456 };

    expect(stdoutIsJournal({ JOURNAL_STREAM: '64768:123456' }, stdout)).toBe(true);
    expect(stdoutIsJournal({ JOURNAL_STREAM: '64768:999' }, stdout)).toBe(false); // output redirected elsewhere
    expect(stdoutIsJournal({}, stdout)).toBe(false);
  });
});
