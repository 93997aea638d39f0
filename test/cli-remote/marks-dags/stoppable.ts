import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dag, task } from 'airless';

/** A try that runs until it is aborted, and logs the reason its signal fired with: what a stop must reach. */
export default dag({ dagId: 'remote_stoppable', tags: ['fixture'] }, () => {
  const long = task('long', (ctx) => {
    ctx.log.info('long started');
    return new Promise<never>((_, reject) => {
      ctx.signal.addEventListener('abort', () => {
        ctx.log.info(`aborted: ${(ctx.signal.reason as Error).message}`);
        reject(ctx.signal.reason as Error);
      });
      // Listening: the test may stop it now (a log line shows only once the try ends).
      writeFileSync(join(process.env.AIRLESS_HOME!, `started-${ctx.runId}`), '');
    });
  });
  task('after', () => 'after').after(long);
});
