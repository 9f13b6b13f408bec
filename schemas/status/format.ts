/** "47 s", "5 min", "2 h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/**
 * "2026-11-22 13:04:05 UTC": how the status's text (its headline, its error lines, the CLI) writes
 * a time. The zone is always named, so a reader never has to guess, and the JSON keeps the number.
 */
export function formatUtc(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
