import { Redis } from 'ioredis';
import type { AnyHandler, Clock } from '../../runtime/host/index.js';
import { GateReader, RedisClock, redisTimeMs } from '../../runtime/host/replay.js';
import { ShadowGate } from './gate.js';
import type { ShadowRecord } from './record.js';

export interface ShadowHostOptions {
  readonly redisUrl: string;
  readonly handlers: readonly AnyHandler[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly host: Clock;
  readonly consumer: string;
  readonly batchSize?: number;
  readonly blockMs?: number;
  readonly maxLen?: number;
  /** CLIENT SETNAME of its connections: who the shadow is in CLIENT LIST and MONITOR. */
  readonly connectionName?: string;
  readonly onDecided?: (records: readonly ShadowRecord[]) => void;
  readonly onError?: (gate: string, error: unknown) => void;
}

/** The gates the shadow hosts, each on its own blocking connection, sharing one commands connection and Redis's clock. */
export class ShadowHost {
  readonly gates: readonly ShadowGate[];
  private readonly redis: Redis;
  private readonly readers: Redis[] = [];

  constructor(options: ShadowHostOptions) {
    const { redisUrl, host } = options;
    const connectionName = options.connectionName ?? 'quantum-gates-shadow';
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, connectionName });
    const clock = new RedisClock(host, async () => redisTimeMs(await this.redis.time()));
    const gateReader = new GateReader(this.redis);
    this.gates = options.handlers.map((handler) => {
      const reader = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName });
      this.readers.push(reader);
      return new ShadowGate({
        handler,
        env: options.env,
        redis: this.redis,
        reader,
        gateReader,
        clock: { now: clock.now, sync: () => clock.sync() },
        host,
        consumer: options.consumer,
        batchSize: options.batchSize ?? 100,
        blockMs: options.blockMs ?? 1_000,
        maxLen: options.maxLen ?? 80_000,
        ...(options.onDecided ? { onDecided: options.onDecided } : {}),
        onError: (error) => options.onError?.(handler.name, error),
      });
    });
  }

  /** The commands connection (the live pairing reads the tape and writes the summary on it). */
  get client(): Redis {
    return this.redis;
  }

  start(): void {
    for (const gate of this.gates) gate.start();
  }

  /** Each gate's batch in hand recorded and acknowledged, then the connections closed. */
  async stop(): Promise<void> {
    await Promise.all(this.gates.map((gate) => gate.stop()));
    await Promise.all([this.redis, ...this.readers].map((r) => r.quit().catch(() => r.disconnect())));
  }
}
