// The deployed API function (functions/api.ts, on the harness's DynamoDB store) behind a local Function
// URL that checks SigV4, and a client signing as one caller: the API as `airless ... --stack` reaches it.
import { startFunctionUrl, type FunctionUrlHandler, type LocalFunctionUrl } from '../../e2e/function-url.ts';
import { createApiClient, type ApiClient } from '../../lib/api/client.ts';
import { signingFetch } from '../../lib/api/sigv4.ts';

export interface Caller {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Start the API function behind a Function URL that knows only `caller`, and a client signing as it. Close `url` after. */
export async function startDeployedApi(caller: Caller, region: string): Promise<{ url: LocalFunctionUrl; api: ApiClient }> {
  const { handler } = (await import('../../functions/api.ts')) as unknown as { handler: FunctionUrlHandler };
  const url = await startFunctionUrl({ handler, region, credentials: { [caller.accessKeyId]: caller.secretAccessKey } });
  return { url, api: createApiClient({ baseUrl: url.url, fetch: signingFetch({ credentials: caller, region }) }) };
}
