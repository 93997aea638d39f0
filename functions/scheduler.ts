/**
 * The scheduler function: a lifecycle reports a try (`try_finished`), a Wait ended (`timer`, from a
 * lifecycle or a standalone timer execution), or the periodic `reconcile` (an EventBridge rule, every
 * 5 minutes). Returns the calling lifecycle's next action (lib/compiler/contract.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { handleSchedulerRequest, type SchedulerRequest } from '../lib/aws/handlers.ts';
import { functionServices, logger } from './shared/runtime.ts';

export const handler = middy(async (event: SchedulerRequest) => {
  const result = await handleSchedulerRequest(event, functionServices());
  if ('reconciled' in result) logger.info('reconciled', { runs: result.reconciled.length, repaired: result.reconciled.filter((r) => r.redispatched + r.timersDelivered + r.resumed + r.failedStopped > 0 || r.finalized) });
  return result;
}).use(injectLambdaContext(logger, { resetKeys: true }));
