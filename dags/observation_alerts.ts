/**
 * observation_alerts: wait for a night's observation to land, check its quality, and tell people when
 * something goes wrong or runs late.
 *
 *   wait_for_observation (sensor, pokes every 10 minutes) -> check_quality
 *
 * - Notifiers are callbacks that send a message: `snsNotifier` (an SNS topic), `webhookNotifier` (a Slack
 *   incoming webhook, or anything taking `{ text }`), `sesNotifier` (an email). A callback option takes a
 *   function, a notifier, or a list of both. Messages are templates: `{{ dag_id }}`, `{{ run_id }}`,
 *   `{{ ti.task_id }}`, `{{ exception }}`, `{{ conf.<key> }}`, ... (an unknown placeholder fails the DAG
 *   file when it loads). A notifier that fails to send is reported and never fails the run.
 * - A deadline alert (Airflow 3.1's DeadlineAlert): if a run has not ended 2 hours after it was queued,
 *   the callback runs, once.
 *
 * Try it: SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... npx airless dags test observation_alerts --conf '{"arrives_after_polls": 15}'
 * (the observation arrives after 15 polls, 2.5 hours: the deadline is missed and the topic is told).
 * The topic is ALERTS_TOPIC_ARN (deployed, the stack grants sns:Publish on it).
 */
import { dag, snsNotifier, webhookNotifier } from 'airless';

const alertsTopic = process.env.ALERTS_TOPIC_ARN ?? 'arn:aws:sns:us-east-1:123456789012:airless-alerts';

/** The webhook URL is read when a message is sent, so a secret can stay out of the DAG file. */
function slackUrl(): string {
  const url = process.env.SLACK_WEBHOOK_URL;
  if (!url) throw new Error('SLACK_WEBHOOK_URL is not set: no Slack message sent');
  return url;
}

export interface QualityReport {
  observation: string;
  rfiFraction: number;
}

export const observationAlerts = dag(
  {
    dagId: 'observation_alerts',
    description: 'Wait for an observation, check its quality; alert on failure and when a run is late',
    params: {
      arrives_after_polls: { type: 'integer', minimum: 1, default: 3, description: 'Polls (10 minutes apart) until the observation lands.' },
      max_rfi_fraction: { type: 'number', default: 0.2, description: 'The quality check fails above this fraction of flagged data (the simulated observation has 5%).' },
    },
    tags: ['alerts', 'example'],
    deadline: {
      reference: 'dagrun_queued_at',
      interval: '2h',
      callback: snsNotifier({
        topicArn: alertsTopic,
        subject: '[airless] {{ dag_id }} is late',
        message: '{{ dag_id }} run {{ run_id }} has not finished by {{ deadline.at }} ({{ deadline.reference }} + {{ deadline.interval }})',
      }),
    },
    onFailure: snsNotifier({ topicArn: alertsTopic, subject: '[airless] {{ dag_id }} failed', message: '{{ dag_id }} run {{ run_id }} (logical date {{ logical_date }}) failed' }),
  },
  ({ task, sensor }) => {
    // A simulation: the observation "lands" on the run's n-th poll (counted per run in this process).
    const polls = new Map<string, number>();
    const arrived = sensor(
      'wait_for_observation',
      ({ params, runId }) => {
        const n = (polls.get(runId) ?? 0) + 1;
        polls.set(runId, n);
        if (n < params.arrives_after_polls) return false;
        polls.delete(runId);
        return { isDone: true, xcomValue: `obs-${runId}` };
      },
      { pokeInterval: '10m', timeout: '12h' },
    );
    task(
      'check_quality',
      ({ params }, observation: string): QualityReport => {
        const rfiFraction = 0.05;
        if (rfiFraction > params.max_rfi_fraction) throw new Error(`${observation}: ${Math.round(rfiFraction * 100)}% of the data is flagged for RFI`);
        return { observation, rfiFraction };
      },
      { onFailure: [webhookNotifier({ url: slackUrl, text: ':red_circle: {{ dag_id }} {{ run_id }}: {{ ti.task_id }} failed: {{ exception }}' })] },
    )(arrived);
  },
);
