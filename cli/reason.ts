import { UsageError } from './errors.js';

/** --reason for a command that changes what the governor lets through: required, not blank. */
export function requireReason(command: string, reason: string | undefined): string {
  const text = reason?.trim() ?? '';
  if (text === '') throw new UsageError(`--reason is required: say why (it is recorded on the governor's events stream)`, command);
  return text;
}
