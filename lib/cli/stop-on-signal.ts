import { errorMessage } from '../errors.ts';
import type { Terminal } from './terminal.ts';
import { EXIT } from './usage-error.ts';

/** Signals this close to the first are the same Ctrl-C delivered twice, not a second one. */
const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Run a server command until SIGINT or SIGTERM, then `stop()` it and resolve with exit code 0 (1 if
 * stopping failed). A second signal exits at once (code 130). One Ctrl-C can arrive twice within
 * milliseconds, from the terminal (to the whole process group) and forwarded by bin/airless.js's parent
 * process: only a signal a second or more after the first insists.
 */
export function stopOnSignal(term: Terminal, name: string, stop: () => Promise<void>, exitNowNote = ''): Promise<number> {
  return new Promise<number>((resolve) => {
    let first = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (first !== 0 && Date.now() - first < DUPLICATE_SIGNAL_MS) return;
      if (first !== 0) {
        term.stderr.write(`\n${name}: ${sig} again, exiting now${exitNowNote}\n`, () => process.exit(130));
        return;
      }
      first = Date.now();
      term.stderr.write(`\n${name}: stopping (${sig}); ${sig} again to exit at once\n`);
      stop().then(
        async () => {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          await term.err(`${name}: stopped\n`);
          resolve(EXIT.ok);
        },
        async (e: unknown) => {
          await term.err(`${name}: error while stopping: ${errorMessage(e)}\n`);
          resolve(EXIT.failed);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
