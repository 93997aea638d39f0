/**
 * The trigger function: the target of each scheduled DAG's EventBridge Scheduler schedule
 * (`{dagId, logicalDate: <aws.scheduler.scheduled-time>, runType: 'scheduled'}`: catchup and the DAG's
 * start and end dates apply), or invoked directly to trigger a run (`{dagId, conf?, runId?}`).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { TriggerEvent } from '../lib/aws/handlers.ts';
import { handleTriggerEvent } from '../lib/aws/scheduled-trigger.ts';
import { functionServices, logger } from './shared/runtime.ts';

export const handler = middy(async (event: TriggerEvent) => {
  const outcome = await handleTriggerEvent(event, functionServices());
  if (outcome.skipped) logger.info('no run triggered', { dagId: event.dagId, reason: outcome.skipped });
  else logger.info('triggered', { dagId: event.dagId, runs: outcome.runs.map((r) => ({ runId: r.runId, state: r.state })) });
  return outcome;
}).use(injectLambdaContext(logger, { resetKeys: true }));
