/**
 * e2e_deadline: a sensor that is done after `polls` one-minute pokes, and a deadline alert 10 minutes
 * after the run was queued that publishes to an SNS topic: a run that polls 30 times misses it, one that
 * polls twice does not.
 */
import { dag, snsNotifier } from 'airless';

export const E2E_DEADLINE_TOPIC = 'arn:aws:sns:us-east-1:000000000000:e2e-deadlines';

const polls = new Map<string, number>();

export const e2eDeadline = dag(
  {
    dagId: 'e2e_deadline',
    description: 'A sensor-paced run with a deadline alert to SNS',
    params: { polls: { type: 'integer', minimum: 1, default: 2 } },
    deadline: {
      reference: 'dagrun_queued_at',
      interval: '10m',
      callback: snsNotifier({ topicArn: E2E_DEADLINE_TOPIC, subject: '{{ dag_id }} is late', message: '{{ run_id }} missed {{ deadline.at }} ({{ state }})' }),
    },
  },
  ({ sensor, task }) => {
    const done = sensor(
      'wait',
      ({ runId, params }) => {
        const n = (polls.get(runId) ?? 0) + 1;
        polls.set(runId, n);
        return n >= params.polls;
      },
      { pokeInterval: '1m', timeout: '1h' },
    );
    task('after', () => 'ok').after(done);
  },
);
