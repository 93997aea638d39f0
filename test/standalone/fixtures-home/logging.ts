import { dag, task } from 'airless';

// A DAG whose task writes log lines (its log file is in the home folder).
export const logging = dag({ dagId: 'home_logging' }, () => {
  task('say', () => {
    console.log('line one');
    console.log('line two');
    return 1;
  });
});
