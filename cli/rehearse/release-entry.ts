/**
 * What a release's build exports for a rehearsal run by another release's CLI (dist/handlers/index.js,
 * scripts/bundle.mjs): its gates and its own runtime side of a rehearsal (the engine's decideBatch,
 * idempotency, effect recorder), so `rehearse <release-dir>` re-decides with that release's code
 * throughout, not with the running CLI's runtime around the release's handlers.
 */
export { allHandlers } from '../../handlers/index.js';
export { rehearseBatch, rehearsedGate } from './rehearse-record.js';
export { READ_TAPE_VERSIONS } from '../../app/cli-door.js';
