import type { Logger as PinoLogger } from 'pino';

/** The process's logger (pino); the application makes it (app/logging.ts) with its output format. */
export type RootLogger = PinoLogger;
