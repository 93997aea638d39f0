// The client side of the deployed API: the SigV4-signing fetch (checked by a verifier that signs the
// received request again with the same secret key), and the stack's API URL from CloudFormation
// (a local server speaking DescribeStacks' query protocol, reached through AWS_ENDPOINT_URL_CLOUDFORMATION).
import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receive, verifySigV4, type ReceivedRequest } from '../e2e/function-url.ts';
import { listenOnLoopback } from '../e2e/loopback-server.ts';
import { functionUrlRegion, signingFetch } from '../lib/api/sigv4.ts';
import { resolveStackEndpoint, StackEndpointError } from '../lib/cli/stack-endpoint.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REGION = 'eu-west-1';

/** A server that records each request as it arrived and answers 200. */
async function recordingServer(): Promise<{ endpoint: string; received: ReceivedRequest[]; close: () => Promise<void> }> {
  const received: ReceivedRequest[] = [];
  const { server, endpoint } = await listenOnLoopback(async (req: IncomingMessage, res) => {
    received.push(await receive(req));
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  return { endpoint, received, close: () => closeServer(server) };
}

const closeServer = (server: Server) => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));

const verify = (req: ReceivedRequest, secrets: Record<string, string> = { [KEYS.accessKeyId]: KEYS.secretAccessKey }) =>
  verifySigV4(req, { service: 'lambda', region: REGION, secretOf: (id) => secrets[id] });

describe('signingFetch (SigV4 for a Function URL with AuthType AWS_IAM)', () => {
  let server: Awaited<ReturnType<typeof recordingServer>>;
  const signed = signingFetch({ credentials: KEYS, region: REGION });

  beforeAll(async () => {
    server = await recordingServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('signs a GET with a query (repeated keys too) so that the verifier accepts it', async () => {
    const res = await signed(`${server.endpoint}/api/v2/dags/~/dagRuns?state=running&state=queued&limit=5&dag_id_pattern=a%20b`);
    expect(res.status).toBe(200);
    const req = server.received.at(-1)!;
    expect(req.headers['authorization']).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEYS.accessKeyId}/\\d{8}/${REGION}/lambda/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`));
    expect(req.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(await verify(req)).toStrictEqual({ ok: true, accessKeyId: KEYS.accessKeyId });
  });

  it('signs a POST with a JSON body (a Request object, as openapi-fetch passes it) and its content hash', async () => {
    const body = JSON.stringify({ dag_run_id: 'r1', conf: { nchan: 4 } });
    const res = await signed(new Request(`${server.endpoint}/api/v2/dags/example_workflow/dagRuns`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }));
    expect(res.status).toBe(200);
    const req = server.received.at(-1)!;
    expect(req.method).toBe('POST');
    expect(Buffer.from(req.body).toString()).toBe(body);
    expect(req.headers['authorization']).toContain('content-type');
    expect(req.headers['authorization']).toContain('x-amz-content-sha256');
    expect(await verify(req)).toStrictEqual({ ok: true, accessKeyId: KEYS.accessKeyId });
  });

  it('is rejected when the body was changed on the way, the path or query changed, or a signed header changed', async () => {
    await signed(`${server.endpoint}/api/v2/dags/example_workflow`, { method: 'PATCH', body: JSON.stringify({ is_paused: true }), headers: { 'content-type': 'application/json' } });
    const req = server.received.at(-1)!;
    expect((await verify(req)).ok).toBe(true);
    const tamperedBody = { ...req, body: new TextEncoder().encode(JSON.stringify({ is_paused: false })) };
    expect(await verify(tamperedBody)).toStrictEqual({ ok: false, message: expect.stringContaining(`'x-amz-content-sha256' header does not match`) });
    // The body and its announced hash both changed: the signature no longer matches.
    const hash = Buffer.from(await crypto.subtle.digest('SHA-256', tamperedBody.body)).toString('hex');
    expect(await verify({ ...tamperedBody, headers: { ...req.headers, 'x-amz-content-sha256': hash } })).toStrictEqual({ ok: false, message: expect.stringContaining('signature we calculated does not match') });
    expect((await verify({ ...req, url: '/api/v2/dags/other' })).ok).toBe(false);
    expect((await verify({ ...req, url: `${req.url}?limit=1` })).ok).toBe(false);
    expect((await verify({ ...req, method: 'DELETE' })).ok).toBe(false);
    expect((await verify({ ...req, headers: { ...req.headers, 'content-type': 'text/plain' } })).ok).toBe(false);
  });

  it('is rejected when signed with a wrong secret key, by an unknown key, for another region or service, or not signed', async () => {
    const wrong = signingFetch({ credentials: { ...KEYS, secretAccessKey: 'not-the-secret' }, region: REGION });
    await wrong(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: expect.stringContaining('signature we calculated does not match') });

    await signingFetch({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }, region: REGION })(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: 'The security token included in the request is invalid.' });

    await signingFetch({ credentials: KEYS, region: 'us-east-1' })(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: expect.stringContaining(`not 'us-east-1'`) });

    await signingFetch({ credentials: KEYS, region: REGION, service: 'execute-api' })(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: expect.stringContaining(`not 'execute-api'`) });

    await fetch(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: 'Forbidden' });
  });

  it('is rejected when signed too long ago (a replayed request)', async () => {
    await signingFetch({ credentials: KEYS, region: REGION, now: () => new Date(Date.now() - 10 * 60_000) })(`${server.endpoint}/api/v2/dags`);
    expect(await verify(server.received.at(-1)!)).toStrictEqual({ ok: false, message: 'Signature expired' });
  });

  it('signs a session credential (its token is a signed header)', async () => {
    await signingFetch({ credentials: { ...KEYS, sessionToken: 'session-token-1' }, region: REGION })(`${server.endpoint}/api/v2/importErrors`);
    const req = server.received.at(-1)!;
    expect(req.headers['x-amz-security-token']).toBe('session-token-1');
    expect(req.headers['authorization']).toContain('x-amz-security-token');
    expect((await verify(req)).ok).toBe(true);
  });

  it('takes the region from a Function URL host', () => {
    expect(functionUrlRegion('abcdefghij1234567890abcdefghij12.lambda-url.ap-southeast-2.on.aws')).toBe('ap-southeast-2');
    expect(functionUrlRegion('127.0.0.1')).toBeNull();
    expect(functionUrlRegion('example.com')).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------
// resolveStackEndpoint

const CFN_NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

function describeStacksXml(name: string, outputs: Record<string, string>): string {
  const members = Object.entries(outputs)
    .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
    .join('');
  return `<DescribeStacksResponse xmlns="${CFN_NS}"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackId>arn:aws:cloudformation:${REGION}:123456789012:stack/${name}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="${CFN_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`;
}

describe('resolveStackEndpoint (CloudFormation DescribeStacks, query protocol)', () => {
  const stacks: Record<string, Record<string, string>> = {
    Airless: { ApiUrl: 'https://abcdefghij1234567890abcdefghij12.lambda-url.eu-west-1.on.aws/', TableName: 'airless-table' },
    OldAirless: { TableName: 'old-table' },
  };
  const requests: { action: string | null; stackName: string | null; authorization: string | undefined }[] = [];
  let endpoint: string;
  let server: Server;
  const env = () => ({
    AWS_ENDPOINT_URL_CLOUDFORMATION: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
  });
  let saved: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ({ server, endpoint } = await listenOnLoopback(async (req, res) => {
      const r = await receive(req);
      const form = new URLSearchParams(Buffer.from(r.body).toString());
      const name = form.get('StackName');
      requests.push({ action: form.get('Action'), stackName: name, authorization: r.headers['authorization'] });
      res.setHeader('content-type', 'text/xml');
      const outputs = name === null ? undefined : stacks[name];
      if (form.get('Action') !== 'DescribeStacks' || outputs === undefined) {
        res.statusCode = 400;
        res.end(errorXml('ValidationError', `Stack with id ${name ?? '?'} does not exist`));
        return;
      }
      res.end(describeStacksXml(name!, outputs));
    }));
    // The SDK reads the endpoint and the credentials from the process's environment.
    saved = { ...process.env };
    Object.assign(process.env, env());
  });
  afterAll(async () => {
    process.env = saved;
    await closeServer(server);
  });

  it('finds the ApiUrl output and returns the base URL with a signing fetch', async () => {
    const got = await resolveStackEndpoint('Airless');
    expect(got.baseUrl).toBe('https://abcdefghij1234567890abcdefghij12.lambda-url.eu-west-1.on.aws');
    expect(typeof got.fetch).toBe('function');
    expect(requests.at(-1)).toMatchObject({ action: 'DescribeStacks', stackName: 'Airless' });
    // The call itself is signed by the SDK, for CloudFormation.
    expect(requests.at(-1)!.authorization).toMatch(/\/eu-west-1\/cloudformation\/aws4_request/);
  });

  it('signs requests of the returned fetch for lambda in the URL\'s region', async () => {
    const target = await recordingServer();
    try {
      const { fetch: signed } = await resolveStackEndpoint('Airless', { signing: { credentials: KEYS, region: REGION } });
      await signed(`${target.endpoint}/api/v2/dags`);
      expect(await verify(target.received.at(-1)!)).toStrictEqual({ ok: true, accessKeyId: KEYS.accessKeyId });
    } finally {
      await target.close();
    }
  });

  it('names a missing stack', async () => {
    const err = await resolveStackEndpoint('Nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackEndpointError);
    expect((err as Error).message).toBe(`stack 'Nope': no such stack in region ${REGION} (is it deployed, and are AWS_REGION and the credentials the right ones?)`);
  });

  it('names a stack without an ApiUrl output, and lists the outputs it has', async () => {
    const err = await resolveStackEndpoint('OldAirless').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackEndpointError);
    expect((err as Error).message).toBe(`stack 'OldAirless': the stack has no 'ApiUrl' output (outputs: TableName): deploy it with a version of airless that has the API`);
  });
});
