import { dag, task } from '../../../lib/index.ts';

/** Daily from three days ago, with catchup: unpaused, it has runs to catch up at once. */
const start = new Date(Date.now() - 3 * 86_400_000);
start.setUTCHours(0, 0, 0, 0);

export default dag({ dagId: 'pause_daily', schedule: '@daily', startDate: start.toISOString(), catchup: true }, () => {
  task('t', ({ logicalDate }) => logicalDate.toISOString());
});
