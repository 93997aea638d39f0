/**
 * The describe-jobs function of the Batch watcher state machine: ONE DescribeJobs call for up to 100 job
 * ids; finished jobs are delivered (their deferred instances resume) before it returns
 * `{pending, finished, intervalSeconds, continueAsNew}` (lib/compiler/contract.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { DescribeJobsRequest } from '../lib/compiler/contract.ts';
import { handleDescribeJobs } from '../lib/aws/describe-jobs.ts';
import { functionServices, logger } from './shared/runtime.ts';

export const handler = middy(async (event: DescribeJobsRequest) => {
  const svc = functionServices();
  const out = await handleDescribeJobs(event, svc, svc.batch);
  logger.info('described jobs', { pending: out.pending.length, finished: out.finished.length, continueAsNew: out.continueAsNew });
  return out;
}).use(injectLambdaContext(logger, { resetKeys: true }));
