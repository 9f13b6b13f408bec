import type { HealthDeclaration } from '../../runtime/contract/index.js';
import { pyJsonDumps } from '../../schemas/python-json.js';
import type { HeatBridgeConfig } from './config.js';

/**
 * The original's HealthHandler (P27_HEALTH_PORT, 8071 there): 200, Content-type
 * application/json, json.dumps({"status": "ok", "last_ts_epoch", "last_loop_ms", "backlog"}) with
 * Python's separators. last_ts_epoch is the ts_epoch of the last decision processed (the
 * p27_last_ts_epoch gauge), last_loop_ms the last pass of the read loop. backlog is the group's
 * pending count: the original asked redis-py for "num-pending-messages", a key XPENDING's
 * reply does not have, so it always said 0 (docs/migration.md).
 */
export const heatBridgeHealth: HealthDeclaration<HeatBridgeConfig> = {
  async answer(probe) {
    const lastTsEpoch = Math.trunc((await probe.metricValue('p27_last_ts_epoch')) ?? 0);
    return {
      status: 200,
      contentType: 'application/json',
      body: pyJsonDumps({ status: 'ok', last_ts_epoch: lastTsEpoch, last_loop_ms: probe.lastLoopMs, backlog: probe.pending }),
    };
  },
  port: (config) => config.P27_HEALTH_PORT,
};
