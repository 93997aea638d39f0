/**
 * The asset-events function: the target of the asset watchers' EventBridge rules (S3 `Object Created`
 * events, and the events of the DAGs' EventBridge watchers) and the event source mappings of their SQS
 * queues (cdk/asset-watchers.ts). Each delivery becomes asset events (lib/aws/asset-events.ts), which start
 * the consumer DAGs' runs. An SQS batch answers with its failed messages only (`reportBatchItemFailures`).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { handleAssetEvents } from '../lib/aws/asset-events.ts';
import { functionServices, logger } from './shared/runtime.ts';

export const handler = middy(async (event: unknown, context: Context) => {
  try {
    return await handleAssetEvents(event, functionServices(), {
      context,
      onRecorded: (r) => logger.info(r.duplicate ? 'asset event seen before' : 'asset event recorded', { uri: r.uri, eventId: r.eventId, runs: r.runs }),
      onRejected: (messageId, error) => logger.error('SQS message rejected (it is delivered again, then goes to its queue\'s dead-letter queue)', { messageId, error: error instanceof Error ? error : String(error) }),
    });
  } catch (error) {
    // The event goes back to Lambda's retries, then to the stack's dead-letter queue with this error.
    logger.error('event not recorded', { error: error instanceof Error ? error : String(error), event: JSON.stringify(event).slice(0, 2000) });
    throw error;
  }
}).use(injectLambdaContext(logger, { resetKeys: true }));
