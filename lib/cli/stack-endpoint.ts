/**
 * The API of a deployed stack: its URL from the stack's `ApiUrl` output, and a fetch that signs each
 * request with SigV4 (the Function URL checks it: `AuthType: AWS_IAM`).
 */
import { CloudFormationClient, DescribeStacksCommand, type CloudFormationClientConfig } from '@aws-sdk/client-cloudformation';
import { signingFetch, type SigningFetchOptions } from '../api/sigv4.ts';
import { baseClientConfig, type Env } from '../clients/aws-clients.ts';
import { AirlessError } from '../errors.ts';

/**
 * The stack output that holds the API's URL (cdk/airless.ts): `ApiUrl` after the construct's id (e.g.
 * `AirlessApiUrl`), its description starting with API_URL_DESCRIPTION; a plain `ApiUrl` too.
 */
export const API_URL_OUTPUT = 'ApiUrl';
/** How the description of an airless API's URL output starts. */
export const API_URL_DESCRIPTION = 'airless REST API';

const QUIET_LOGGER = { debug: () => undefined, info: () => undefined, warn: (...a: unknown[]) => console.warn(...a), error: () => undefined };

/** The stack's API cannot be found: no such stack, or a stack without an `ApiUrl` output. */
export class StackEndpointError extends AirlessError {
  override name = 'StackEndpointError';
  constructor(
    readonly stackName: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`stack '${stackName}': ${detail}`, {}, options);
  }
}

export interface StackEndpointOptions {
  /** CloudFormation client options (explicit ones win over the environment's). */
  client?: CloudFormationClientConfig;
  /** Signing options (credentials, the fetch that sends). The region defaults to the stack's. */
  signing?: Omit<SigningFetchOptions, 'env'>;
  /** Where `AWS_REGION` and `AWS_ENDPOINT_URL[_CLOUDFORMATION]` come from. Default `process.env`. */
  env?: Env;
}

export interface StackEndpoint {
  /** The API's base URL, without a trailing '/'. */
  baseUrl: string;
  /** A fetch that signs every request for the stack's Function URL. */
  fetch: typeof fetch;
}

/**
 * Find a deployed stack's API: CloudFormation DescribeStacks (the endpoint honours `AWS_ENDPOINT_URL` /
 * `AWS_ENDPOINT_URL_CLOUDFORMATION`), the `ApiUrl` output, and a SigV4-signing fetch for it (credentials
 * from the SDK's default chain). Throws a {@link StackEndpointError} naming the stack when it does not
 * exist or has no `ApiUrl` output.
 */
export async function resolveStackEndpoint(stackName: string, options: StackEndpointOptions = {}): Promise<StackEndpoint> {
  const env = options.env ?? process.env;
  // The SDK's logger would print the failed call as well: the error thrown here names it (and keeps it as its cause).
  const client = new CloudFormationClient({ ...baseClientConfig(env), logger: QUIET_LOGGER, ...(options.client ?? {}) });
  let outputs: { OutputKey?: string | undefined; OutputValue?: string | undefined; Description?: string | undefined }[];
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack) throw new StackEndpointError(stackName, 'CloudFormation returned no such stack');
    outputs = stack.Outputs ?? [];
  } catch (e) {
    if (e instanceof StackEndpointError) throw e;
    // CloudFormation answers a missing stack with a ValidationError "Stack with id X does not exist".
    if (e instanceof Error && e.name === 'ValidationError' && /does not exist/i.test(e.message)) {
      throw new StackEndpointError(stackName, `no such stack in region ${await client.config.region()} (is it deployed, and are AWS_REGION and the credentials the right ones?)`, { cause: e });
    }
    throw new StackEndpointError(stackName, `DescribeStacks failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
  } finally {
    client.destroy();
  }
  const apis = outputs.filter((o) => o.OutputKey === API_URL_OUTPUT || (o.OutputKey?.endsWith(API_URL_OUTPUT) === true && o.Description?.startsWith(API_URL_DESCRIPTION) === true));
  if (apis.length > 1) {
    throw new StackEndpointError(
      stackName,
      `the stack holds ${apis.length} airless APIs (outputs ${apis.map((o) => o.OutputKey).join(', ')}): name one with --endpoint <its URL> instead of --stack`,
    );
  }
  const url = apis[0]?.OutputValue;
  if (url === undefined || url === '') {
    const keys = outputs.map((o) => o.OutputKey).filter((k): k is string => k !== undefined);
    throw new StackEndpointError(
      stackName,
      `the stack has no '${API_URL_OUTPUT}' output (outputs: ${keys.length ? keys.join(', ') : 'none'}): deploy it with a version of airless that has the API`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new StackEndpointError(stackName, `its '${API_URL_OUTPUT}' output '${url}' is not a URL`, { cause: e });
  }
  return {
    baseUrl: parsed.href.replace(/\/+$/, ''),
    fetch: signingFetch({ env, ...(options.signing ?? {}) }),
  };
}
