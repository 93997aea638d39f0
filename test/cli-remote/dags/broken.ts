import { dag, task } from 'airless';

/** A cycle: an import error. */
export default dag({ dagId: 'remote_broken' }, () => {
  const a = task('a', () => 1);
  const b = task('b', () => 2);
  a.before(b);
  b.before(a);
});
