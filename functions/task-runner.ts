/**
 * The task-runner function: one step of a try of a task (`run`, Batch `batch_prepare`/`batch_complete`,
 * iteration `iterate_prepare`/`item`/`iterate_complete`), running the bundled DAG's task code. The try's
 * AbortSignal fires before the Lambda timeout (shared/early-timeout.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { handleTaskRunnerRequest, type TaskRunnerRequest } from '../lib/aws/handlers.ts';
import { earlyTimeout } from './shared/early-timeout.ts';
import { functionServices, logger } from './shared/runtime.ts';
import { maskConsole } from '../lib/secrets/masker.ts';

// What task code writes to the console reaches CloudWatch Logs with its secrets masked (lib/secrets/masker.ts).
maskConsole();

const timeout = earlyTimeout();

export const handler = middy(
  (event: TaskRunnerRequest, _context: unknown, { signal }: { signal: AbortSignal }) =>
    timeout.run(signal, (s) => handleTaskRunnerRequest(event, functionServices(), s)),
  timeout.options,
).use(injectLambdaContext(logger, { resetKeys: true }));
