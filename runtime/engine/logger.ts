import type { Logger as PinoLogger } from 'pino';
import type { Logger } from '../contract/logger.js';

/** The process's logger (pino); the application makes it (app/logging.ts) with its output format. */
export type RootLogger = PinoLogger;

/**
 * A message's logger whose pino child (`bind`) is made on its first line at an enabled level: a
 * message that logs nothing at the level (a downgrade's info line under LOG_LEVEL=warn) makes none.
 */
export function lazyChildLogger(root: RootLogger, bind: () => Logger): Logger {
  let child: Logger | undefined;
  const at = (level: keyof Logger) => (obj: object, msg?: string) => {
    if (!root.isLevelEnabled(level)) return;
    child ??= bind();
    // The arguments as given: the repeat throttle keys lines by them.
    if (msg === undefined) child[level](obj);
    else child[level](obj, msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
