/**
 * A local Lambda Function URL with `AuthType: AWS_IAM`: an HTTP server that checks each request's SigV4
 * signature as AWS does (403 when it is missing, stale or wrong; the handler never sees such a request),
 * turns the request into a Function URL event (payload format 2.0) and answers with what the handler
 * returns. The signature is checked by signing the received request again with the caller's secret
 * key (`@smithy/signature-v4`, the SDK's own signer) and comparing.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import type { LambdaFunctionURLEventWithIAMAuthorizer as LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { queryOf } from '../lib/api/sigv4.ts';
import { listenOnLoopback } from './loopback-server.ts';

/** How far a request's `x-amz-date` may be from now (AWS: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** A request as it arrived. */
export interface ReceivedRequest {
  method: string;
  /** Path and query string, as sent (percent-encoded). */
  url: string;
  /** Header names in lower case; repeated headers joined with ','. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface VerifyOptions {
  service: string;
  region: string;
  /** The secret key of an access key id (undefined: unknown key). */
  secretOf(accessKeyId: string): string | undefined;
  /** Default now. */
  now?: () => Date;
}

export type Verification = { ok: true; accessKeyId: string } | { ok: false; message: string };

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/** Parse `x-amz-date` (`YYYYMMDDTHHMMSSZ`). */
function amzDate(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : null;
}

/** Check a request's SigV4 `Authorization` header as the service would. */
export async function verifySigV4(req: ReceivedRequest, o: VerifyOptions): Promise<Verification> {
  const auth = req.headers['authorization'];
  if (auth === undefined) return { ok: false, message: 'Forbidden' };
  const m = AUTHORIZATION.exec(auth);
  if (!m) return { ok: false, message: `Authorization header is not a SigV4 (AWS4-HMAC-SHA256) header` };
  const [, accessKeyId, day, region, service, signedHeaderList] = m as unknown as [string, string, string, string, string, string, string];
  if (region !== o.region) return { ok: false, message: `Credential should be scoped to a valid region, not '${region}' (expected '${o.region}')` };
  if (service !== o.service) return { ok: false, message: `Credential should be scoped to correct service: '${o.service}', not '${service}'` };
  const secretAccessKey = o.secretOf(accessKeyId);
  if (secretAccessKey === undefined) return { ok: false, message: 'The security token included in the request is invalid.' };
  const dateHeader = req.headers['x-amz-date'];
  const signingDate = dateHeader === undefined ? null : amzDate(dateHeader);
  if (signingDate === null) return { ok: false, message: 'Missing or malformed x-amz-date header' };
  if (!dateHeader!.startsWith(day)) return { ok: false, message: `Credential date ${day} does not match x-amz-date ${dateHeader}` };
  const now = (o.now ?? (() => new Date()))();
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) return { ok: false, message: 'Signature expired' };
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return { ok: false, message: `'Host' must be a signed header` };
  const contentHash = req.headers['x-amz-content-sha256'];
  if (contentHash !== undefined && contentHash !== (await sha256Hex(req.body))) {
    return { ok: false, message: `The provided 'x-amz-content-sha256' header does not match what was computed.` };
  }
  const headers: Record<string, string> = {};
  for (const h of signedHeaders) {
    const v = req.headers[h];
    if (v === undefined) return { ok: false, message: `signed header '${h}' is missing from the request` };
    headers[h] = v;
  }
  const url = new URL(req.url, 'http://signed.invalid');
  const toSign: HttpRequest = {
    method: req.method,
    protocol: 'https:',
    hostname: headers['host']!,
    path: url.pathname,
    query: queryOf(url.searchParams),
    headers,
    body: req.body,
  };
  const signer = new SignatureV4({ service, region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const expected = await signer.sign(toSign, { signingDate, signableHeaders: new Set(signedHeaders) });
  if (expected.headers['authorization'] !== auth) {
    return { ok: false, message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' };
  }
  return { ok: true, accessKeyId };
}

/** The hex SHA-256 of bytes. */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const h = new Sha256();
  h.update(bytes);
  return Buffer.from(await h.digest()).toString('hex');
}

/** The request as it arrived at a Node HTTP server. */
export async function receive(req: IncomingMessage): Promise<ReceivedRequest> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return { method: req.method ?? 'GET', url: req.url ?? '/', headers, body: new Uint8Array(Buffer.concat(chunks)) };
}

/** A Lambda handler as a Function URL invokes it. */
export type FunctionUrlHandler = (event: LambdaFunctionURLEvent, context: unknown) => Promise<LambdaFunctionURLResult>;

export interface FunctionUrlOptions {
  handler: FunctionUrlHandler;
  region: string;
  /** Access key id → secret key of the callers the URL accepts (IAM, as far as the test needs it). */
  credentials: Record<string, string>;
  /** The account id the event names. Default 123456789012. */
  accountId?: string;
}

export interface LocalFunctionUrl {
  /** `http://127.0.0.1:<port>/`, as the `ApiUrl` output gives a Function URL (trailing '/'). */
  readonly url: string;
  /** The events the handler was invoked with. */
  readonly events: LambdaFunctionURLEvent[];
  close(): Promise<void>;
}

/** The Function URL event (payload format 2.0) of a verified request. */
export function functionUrlEvent(req: ReceivedRequest, o: { region: string; accountId: string; accessKeyId: string; sourceIp: string }): LambdaFunctionURLEvent {
  const url = new URL(req.url, 'http://event.invalid');
  const rawQueryString = url.search.replace(/^\?/, '');
  // Repeated query parameters and headers arrive joined with ',', as a Function URL gives them.
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const { cookie, ...headers } = req.headers;
  const now = new Date();
  const urlId = 'localfunctionurl';
  const text = Buffer.from(req.body);
  const isText = text.length === 0 || /json|text|x-www-form-urlencoded/i.test(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString,
    ...(cookie !== undefined ? { cookies: cookie.split(/;\s*/) } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: o.accountId,
      apiId: urlId,
      authorizer: {
        iam: {
          accessKey: o.accessKeyId,
          accountId: o.accountId,
          callerId: `AIDA${o.accessKeyId}`,
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: `arn:aws:iam::${o.accountId}:user/${o.accessKeyId}`,
          userId: `AIDA${o.accessKeyId}`,
        },
      },
      domainName: `${urlId}.lambda-url.${o.region}.on.aws`,
      domainPrefix: urlId,
      http: { method: req.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: o.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(text.length > 0 ? { body: isText ? text.toString('utf8') : text.toString('base64') } : {}),
    isBase64Encoded: !isText,
    // AWS sends null for an absent principalOrgId, which @types/aws-lambda types as a string.
  } as unknown as LambdaFunctionURLEvent;
}

function lambdaContext(functionName: string, region: string, accountId: string) {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function forbidden(res: ServerResponse, message: string): void {
  res.statusCode = 403;
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-amzn-errortype', 'AccessDeniedException');
  res.end(JSON.stringify({ Message: message }));
}

/** Start a local Function URL (AWS_IAM) in front of `handler`. */
export async function startFunctionUrl(o: FunctionUrlOptions): Promise<LocalFunctionUrl> {
  const accountId = o.accountId ?? '123456789012';
  const events: LambdaFunctionURLEvent[] = [];
  const { server, endpoint }: { server: Server; endpoint: string } = await listenOnLoopback(async (req, res) => {
    try {
      const received = await receive(req);
      const v = await verifySigV4(received, { service: 'lambda', region: o.region, secretOf: (id) => o.credentials[id] });
      if (!v.ok) return forbidden(res, v.message);
      const event = functionUrlEvent(received, { region: o.region, accountId, accessKeyId: v.accessKeyId, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' });
      events.push(event);
      const result = await o.handler(event, lambdaContext('airless-api', o.region, accountId));
      if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
        // A Function URL answers 200 with the JSON of a result that is not a response object.
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(result));
        return;
      }
      res.statusCode = result.statusCode ?? 200;
      for (const [k, val] of Object.entries(result.headers ?? {})) res.setHeader(k, String(val));
      if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
      res.end(result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'));
    } catch (e) {
      // What a Function URL answers when the function fails: a 502, and the error in the function's log.
      console.error(e);
      res.statusCode = 502;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ Message: 'Internal Server Error' }));
    }
  });
  return {
    url: `${endpoint}/`,
    events,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
