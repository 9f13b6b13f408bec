/**
 * The status's own keys, in the order GET /status writes them: no gate's section may take one,
 * and `quantum-gates status` tells them from the sections. A module of its own so the CLI reads
 * the list without loading the status's readers.
 */
export const RUNTIME_STATUS_KEYS = [
  'generated_at',
  'headline',
  'build',
  'instance',
  'redis_ready',
  'clock',
  'gates',
  'dead_letter',
  'redis_fault',
  'errors',
] as const;
