/**
 * The kill switch (quantum:kill), one definition for the governor, the commit guard, the status
 * page and the CLI. Absent, "0", "false" and "" are off; "1" and "true" (any case, trimmed) are
 * on; any other value is on too: a switch whose value nobody can read must fail closed.
 */
export type KillSwitchState = 'off' | 'on' | 'unrecognised';

const OFF = new Set(['', '0', 'false']);
const ON = new Set(['1', 'true']);

export function killSwitchState(raw: string | null | undefined): KillSwitchState {
  if (raw === null || raw === undefined) return 'off';
  const value = raw.trim().toLowerCase();
  if (OFF.has(value)) return 'off';
  return ON.has(value) ? 'on' : 'unrecognised';
}

/** True when the switch blocks: on, or set to a value that is neither clearly off nor on. */
export function killSwitchBlocks(raw: string | null | undefined): boolean {
  return killSwitchState(raw) !== 'off';
}

/** The off values, for a commit guard that runs inside Redis (lower-cased, trimmed). */
export const KILL_SWITCH_OFF_VALUES: readonly string[] = [...OFF];

/**
 * Why a switch's key cannot be read, when Redis refuses the read for the key itself: it holds
 * another type (WRONGTYPE, as a hand-typed HSET leaves it) or an ACL forbids it (NOPERM). The
 * governor takes such a switch as engaged, so everything that shows the switch says
 * "unreadable: ..." and engaged. Undefined for any other failure (a lost connection says nothing
 * about the key).
 */
export function unreadableSwitch(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  return /^(WRONGTYPE|NOPERM)\b/.test(message) ? `unreadable: ${message}` : undefined;
}
