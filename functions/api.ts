/**
 * The API function: the REST API (lib/api/app.ts) behind a Lambda Function URL with `AuthType: AWS_IAM`,
 * so AWS checks each request's SigV4 signature before it arrives (the app itself checks nothing:
 * `auth: { mode: 'iam' }`). The app is built once per container. No web UI: a browser cannot sign its
 * requests for an IAM-authenticated URL (use the standalone server's UI, or a signing proxy).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import awsLambdaFastify, { type LambdaResponse } from '@fastify/aws-lambda';
import middy from '@middy/core';
import type { Context, LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import { createApiApp } from '../lib/api/app.ts';
import { deployedApiBackend } from '../lib/aws/api-backend.ts';
import { dags, functionServices, logger } from './shared/runtime.ts';

/** The Function URL's answer (payload format 2.0). */
export type ApiResponse = LambdaResponse;
type Proxy = (event: LambdaFunctionURLEventWithIAMAuthorizer, context: Context) => Promise<ApiResponse>;

let proxy: Promise<Proxy> | undefined;

async function buildProxy(): Promise<Proxy> {
  const app = await createApiApp({ backend: deployedApiBackend(functionServices(), dags), auth: { mode: 'iam' }, uiDir: null });
  // Repeated query parameters arrive joined with ',' (`state=queued,running`): split back into arrays.
  const proxy = awsLambdaFastify<LambdaFunctionURLEventWithIAMAuthorizer>(app, { parseCommaSeparatedQueryParams: true, decorateRequest: false }) as Proxy;
  await app.ready();
  return proxy;
}

export const handler = middy(async (event: LambdaFunctionURLEventWithIAMAuthorizer, context: Context): Promise<ApiResponse> => {
  // A failed build is not kept: the next request tries again (and logs why, if it fails again).
  const p = (proxy ??= buildProxy().catch((e: unknown) => {
    proxy = undefined;
    throw e;
  }));
  const response = await (await p)(event, context);
  logger.info('request', { method: event.requestContext.http.method, path: event.rawPath, status: response.statusCode, caller: event.requestContext.authorizer.iam.userArn });
  return response;
}).use(injectLambdaContext(logger, { resetKeys: true }));
