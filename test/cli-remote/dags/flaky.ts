import { dag, task } from 'airless';

/** Fails on its first try (no retries), succeeds when cleared: what `tasks clear --only-failed` is for. */
export default dag({ dagId: 'remote_flaky', tags: ['fixture'] }, () => {
  const solve = task('solve', (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('calibration diverged');
    return 'converged';
  });
  task('report', () => 'done').after(solve);
});
