// IAM for the DAGs' notifiers: sns:Publish on each topic an `snsNotifier` names and ses:SendEmail from each
// identity a `sesNotifier` sends as (the address, and its domain, either of which may be the verified
// identity), both read from the DAG specs (`notifierTargets`). Granted to the functions that run scheduler
// steps, where callbacks and deadline alerts run. Nothing when no DAG notifies.

import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { DagSpec } from '../lib/model/spec.ts';

/** The topics and SES identities the DAGs' notifiers send to. */
export function notifierResources(stack: Stack, specs: readonly DagSpec[]): { topics: string[]; identities: string[] } {
  const topics = new Set<string>();
  const identities = new Set<string>();
  for (const spec of specs) {
    for (const t of spec.notifierTargets ?? []) {
      if (t.kind === 'sns') topics.add(t.topicArn);
      else {
        const domain = t.from.slice(t.from.lastIndexOf('@') + 1);
        identities.add(t.from);
        identities.add(domain);
      }
    }
  }
  return { topics: [...topics].sort(), identities: [...identities].sort().map((id) => stack.formatArn({ service: 'ses', resource: 'identity', resourceName: id })) };
}

/** Grant `grantees` what the DAGs' notifiers send. */
export function grantNotifiers(stack: Stack, specs: readonly DagSpec[], grantees: readonly iam.IGrantable[]): void {
  const { topics, identities } = notifierResources(stack, specs);
  const statements: iam.PolicyStatement[] = [];
  if (topics.length > 0) statements.push(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: topics }));
  if (identities.length > 0) statements.push(new iam.PolicyStatement({ actions: ['ses:SendEmail'], resources: identities }));
  for (const g of grantees) for (const s of statements) g.grantPrincipal.addToPrincipalPolicy(s);
}
