// The serialisable part of notifiers and deadline alerts: what a DAG spec records of them, so a deployment
// can scope IAM to the targets (an SNS topic, an SES identity) and the scheduler can compute deadlines.

/** Where a notifier of the DAG sends, as far as IAM needs to know (a webhook needs no grant and is not listed). */
export type NotifierTarget =
  /** `snsNotifier`: sns:Publish on the topic. */
  | { kind: 'sns'; topicArn: string }
  /** `sesNotifier`: ses:SendEmail from this address (its identity: the address, or its domain). */
  | { kind: 'ses'; from: string };

/** What a deadline is measured from. */
export type DeadlineReferenceSpec =
  /** When the run was created (queued). */
  | { kind: 'dagrun_queued_at' }
  /** The run's logical date. */
  | { kind: 'dagrun_logical_date' }
  /** A fixed instant (ISO-8601), the same for every run. */
  | { kind: 'fixed'; at: string };

/** A deadline alert: when a run has not ended by reference + interval, its callback runs once. */
export interface DeadlineSpec {
  reference: DeadlineReferenceSpec;
  intervalMs: number;
  /** The interval as written (e.g. '30m'), shown in messages. */
  interval: string;
}
