import { pino, type Logger as PinoLogger } from 'pino';

export type RootLogger = PinoLogger;

export function createLogger(level: string, name = 'quantum-gates'): RootLogger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * A message's logger, bound to its ids. The pino child is built only when a line at an enabled
 * level is written, so a handler that logs at info under LOG_LEVEL=warn costs nothing per message.
 */
export class LazyChildLogger {
  private child: RootLogger | undefined;

  constructor(
    private readonly parent: RootLogger,
    private readonly bindings: Readonly<Record<string, string | undefined>>,
  ) {}

  private bound(): RootLogger {
    this.child ??= this.parent.child(this.bindings);
    return this.child;
  }
  debug(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('debug')) this.bound().debug(obj, msg);
  }
  info(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('info')) this.bound().info(obj, msg);
  }
  warn(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('warn')) this.bound().warn(obj, msg);
  }
  error(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('error')) this.bound().error(obj, msg);
  }
}
