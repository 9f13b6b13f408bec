import { pino, type Logger as PinoLogger } from 'pino';

export type RootLogger = PinoLogger;

export function createLogger(level: string, name = 'quantum-gates'): RootLogger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
