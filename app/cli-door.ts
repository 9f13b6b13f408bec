// The application's one door for the operator CLI (cli/): what the CLI shares with the gates' process.
export { buildInfo, packageRoot, releaseName, type BuildInfo, type ReleaseRehearsal } from './build-info.js';
export { didYouMean, findUnknownSettings, redisIsConfigured, settingsRead } from './settings.js';
export { isRunning, privateRedisAnswers, privateRedisDir, readPrivateRedisRecord, recordedGatesUrl } from './private-redis-record.js';
export { connectVerified, RedisWiringError } from './redis-preflight.js';
export { checkCommands, commandsFor, describeMissing } from './redis-commands.js';
export { redisAddress, redisIdentity } from './redis-identity.js';
export {
  READ_METHODS,
  TAPE_VERSION,
  READ_TAPE_VERSIONS,
  answeredReply,
  tapedReply,
  readIdentity,
  tapeKey,
  type TapedReads,
  type TapeRecord,
} from './tape/format.js';
export { tapeEntries } from './tape/read.js';
export { comparableConfig, isCredential, settingsKey, type TapedSettings } from './tape/settings.js';
export type { GatesStatus, RuntimeStatus, SectionDescription, StatusInstance } from './http/status/status.js';
export { RUNTIME_STATUS_KEYS } from './http/status/status-keys.js';
export { formatUtc } from './http/status/status-time.js';
export { headlineState, type Headline, type HeadlineReason } from './http/status/status-headline.js';

export {
  SHADOW_DEAD_LETTERS,
  SHADOW_DIFFERENCES,
  SHADOW_INCUMBENT_BUDGETS,
  SHADOW_INCUMBENT_BUDGETS_SEEN,
  SHADOW_OUTCOMES,
  SHADOW_STATE,
  SHADOW_SUMMARY,
  SHADOW_UNEXPLAINED,
  shadowDecisionsKey,
} from './shadow/namespace.js';
export { periodField, tickId, tickSlot } from './shadow/tick.js';
export { decodeShadowRecord, type ShadowRecord } from './shadow/record.js';
/** The shadow's host (app/shadow), loaded by `quantum-gates shadow` only: it brings the engine and prom-client. */
export const loadShadowHost = () => import('./shadow/host.js');
/** Its metrics and their HTTP (prom-client, node:http), for `quantum-gates shadow` only. */
export const loadShadowMetrics = async () => ({ ...(await import('./shadow/metrics.js')), ...(await import('./shadow/server.js')) });

/**
 * Runs the gates in this process (`quantum-gates start`): app/main.ts starts on import and owns the
 * process from then on. Named as ../app/main.js so scripts/bundle.mjs leaves it to the gates' own
 * bundle (dist/app/main.js) instead of copying the server into the CLI's.
 */
export const startGates = (): Promise<unknown> => import('../app/main.js');
