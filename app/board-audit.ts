import type { BoardAction } from './http/dashboard.js';
import type { RuntimeServices } from '../runtime/host/runtime.js';
import { encodeGovernorEvent } from '../schemas/governor-event.js';
import { streams } from '../schemas/keys.js';

/**
 * The board's writes as the CLI records its own (cli/audit.ts): a bull_board event on the
 * governor's events stream (STREAM_EVENTS, as the governor reads it) with the actor, host and
 * time, and a warning in the log. The board asks no reason; `request` says what was done. An
 * event the stream cannot take is logged, not thrown: the write itself already happened.
 */
export function boardAudit(services: RuntimeServices): (action: BoardAction) => Promise<void> {
  return async (action) => {
    const fields = encodeGovernorEvent({
      event: 'bull_board',
      actor: action.actor,
      host: action.host,
      ts: action.ts,
      reason: '',
      request: action.request,
      status: action.status,
    });
    services.logger.warn({ audit: fields }, `bull-board: ${fields.request} by ${fields.actor}`);
    const stream = services.env.STREAM_EVENTS || streams.governorEvents;
    await services.redis.xadd(stream, '*', ...Object.entries(fields).flat()).catch((error: unknown) => {
      services.logger.error({ err: error, audit: fields }, 'bull-board action not recorded on the events stream');
    });
  };
}
