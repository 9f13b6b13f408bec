import { processIo } from './io.js';
import { runCli } from './run.js';

// `start` keeps the process alive with its own servers; every other command ends when its work
// is done, so the exit code is set rather than forced and pending writes always flush.
process.exitCode = await runCli(process.argv.slice(2), processIo());
