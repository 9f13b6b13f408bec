/**
 * One way to say what a validation found, for every place a person reads it: the dead letters'
 * list and details, a refused replay, the logs. `qty: must be a decimal number; symbol: Required`.
 */
export interface IssueLike {
  readonly path: string | readonly PropertyKey[];
  readonly message: string;
}

export function describeIssues(issues: readonly IssueLike[]): string {
  return issues
    .map((issue) => {
      const path = typeof issue.path === 'string' ? issue.path : issue.path.map(String).join('.');
      return `${path || '(entry)'}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * A dead letter's error as a person reads it. An invalid input's error holds the issues as JSON
 * (path, code, message: for scripts; formatIssues in runtime/engine/decide.ts writes it);
 * anything else is already text.
 */
export function readableDeadLetterError(reason: string, error: string): string {
  if (reason !== 'invalid_input') return error;
  try {
    const issues = JSON.parse(error) as unknown;
    if (Array.isArray(issues) && issues.every((i) => typeof i === 'object' && i !== null && 'message' in i && 'path' in i))
      return describeIssues(issues as IssueLike[]);
  } catch {
    // Not the runtime's JSON (an older entry, or hand-written): shown as it is.
  }
  return error;
}
