import { dag, task } from 'airless';

/** Triggered, then deleted. */
export default dag({ dagId: 'remote_scratch' }, () => {
  task('only', () => 1);
});
