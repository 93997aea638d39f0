/**
 * The scheduler function: a lifecycle reports a try (`try_finished`), a Wait ended (`timer`, from a
 * lifecycle or a standalone timer execution), or a `reconcile` (a round of the reconciler state machine,
 * which runs only while runs are active, or a direct request). Returns the calling lifecycle's next action
 * (lib/compiler/contract.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { handleSchedulerRequest, type SchedulerRequest } from '../lib/aws/handlers.ts';
import { functionServices, logger } from './shared/runtime.ts';

export const handler = middy(async (event: SchedulerRequest) => {
  const result = await handleSchedulerRequest(event, functionServices());
  if ('loop' in result) logger.info('reconciler round', { epoch: result.loop.epoch, activeRuns: result.activeRuns, next: result.next, reason: result.reason });
  else if ('reconciled' in result) logger.info('reconciled', { runs: result.reconciled.length, repaired: result.reconciled.filter((r) => r.redispatched + r.timersDelivered + r.resumed + r.failedStopped > 0 || r.finalized) });
  return result;
}).use(injectLambdaContext(logger, { resetKeys: true }));
