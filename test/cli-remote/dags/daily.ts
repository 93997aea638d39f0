import { dag, task } from 'airless';

const DAY = 86_400_000;

/** Daily, with catchup from three days ago (so the server creates a few runs at start, no more); conf keys are refused (strictConf). */
export default dag(
  { dagId: 'remote_daily', schedule: '@daily', startDate: new Date(Math.floor(Date.now() / DAY) * DAY - 3 * DAY), catchup: true, strictConf: true },
  () => {
    task('tick', ({ logicalDate }) => logicalDate.toISOString());
  },
);
