/**
 * SigV4 signing of the API's requests, for a stack whose API sits behind a Lambda Function URL with
 * `AuthType: AWS_IAM`: AWS checks the signature before the request reaches the function.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest, QueryParameterBag } from '@smithy/types';
import { regionFromEnv, type Env } from '../clients/aws-clients.ts';

/** The signing name of Lambda Function URLs. */
export const FUNCTION_URL_SERVICE = 'lambda';

export interface SigningFetchOptions {
  /**
   * The region the URL's function is in. Default: the region in a Function URL's host name
   * (`<id>.lambda-url.<region>.on.aws`), else `AWS_REGION`, else us-east-1.
   */
  region?: string;
  /** The signing name. Default `lambda` (Function URLs). */
  service?: string;
  /** Default: the AWS SDK's default chain (`fromNodeProviderChain`: environment, SSO, profiles, instance roles...). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The fetch that sends the signed request. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Where `AWS_REGION` is read from. Default `process.env`. */
  env?: Env;
  /** The signing time (for tests). Default now. */
  now?: () => Date;
}

/** The region of a Function URL's host (`<url-id>.lambda-url.<region>.on.aws`), or null for another host. */
export function functionUrlRegion(hostname: string): string | null {
  const m = /^[^.]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/i.exec(hostname);
  return m ? m[1]!.toLowerCase() : null;
}

/** A URL's query string as the signer wants it (repeated keys as arrays). */
export function queryOf(params: URLSearchParams): QueryParameterBag {
  const query: QueryParameterBag = {};
  for (const [k, v] of params) {
    const seen = query[k];
    if (seen === undefined || seen === null) query[k] = v;
    else query[k] = Array.isArray(seen) ? [...seen, v] : [seen, v];
  }
  return query;
}

/** Headers that the fetch implementation owns or may change on the way: never signed. */
const UNSIGNED = new Set(['host', 'content-length', 'connection', 'accept-encoding', 'user-agent', 'expect', 'transfer-encoding']);

/**
 * A `fetch` that signs every request with SigV4 (service `lambda` by default) before sending it: the
 * `fetch` to give `createApiClient` (lib/api/client.ts) for a deployed stack. The body is read, hashed
 * (the signed `x-amz-content-sha256` header, which Function URLs want for a request with a body) and
 * sent as signed.
 */
export function signingFetch(options: SigningFetchOptions = {}): typeof fetch {
  const send = options.fetch ?? globalThis.fetch;
  const env = options.env ?? process.env;
  const service = options.service ?? FUNCTION_URL_SERVICE;
  const credentials = options.credentials ?? fromNodeProviderChain();
  const signers = new Map<string, SignatureV4>();
  const signer = (region: string) => {
    let s = signers.get(region);
    if (!s) signers.set(region, (s = new SignatureV4({ service, region, credentials, sha256: Sha256 })));
    return s;
  };

  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (!UNSIGNED.has(name)) headers[name] = value;
    });
    // The Host header fetch sends: the URL's host, with its port when it is not the scheme's default.
    headers['host'] = url.host;
    const region = options.region ?? functionUrlRegion(url.hostname) ?? regionFromEnv(env);
    const toSign: HttpRequest = {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: queryOf(url.searchParams),
      headers,
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(body !== undefined ? { body } : {}),
    };
    const signed = await signer(region).sign(toSign, options.now ? { signingDate: options.now() } : {});
    const out = new Headers();
    for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') out.set(name, value);
    return send(url, {
      method: request.method,
      headers: out,
      signal: request.signal,
      redirect: request.redirect,
      ...(body !== undefined ? { body } : {}),
    });
  };
}
