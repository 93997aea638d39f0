// The deployed API's backend (a scheduler whose dispatches start executions when the call ends; the
// next scheduled run as EventBridge Scheduler fires it) and its client side: the SigV4-signing fetch (checked by a verifier that signs the
// received request again with the same secret key), and the stack's API URL from CloudFormation
// (a local server speaking DescribeStacks' query protocol, reached through AWS_ENDPOINT_URL_CLOUDFORMATION).
import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receive, verifySigV4, type ReceivedRequest } from '../e2e/function-url.ts';
import { listenOnLoopback } from '../e2e/loopback-server.ts';
import { functionUrlRegion, signingFetch } from '../lib/api/sigv4.ts';
import { deployedApiBackend } from '../lib/aws/api-backend.ts';
import { nextScheduledInstant } from '../lib/core/schedule-dates.ts';
import type { AwsServices } from '../lib/aws/handlers.ts';
import type { Dispatcher } from '../lib/aws/invocation-host.ts';
import { API_URL_DESCRIPTION, resolveStackEndpoint, StackEndpointError } from '../lib/cli/stack-endpoint.ts';
import { dag } from '../lib/index.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';

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

/** A stack's outputs: key → value, or value and description. */
type Outputs = Record<string, string | { value: string; description: string }>;

function describeStacksXml(name: string, outputs: Outputs): string {
  const members = Object.entries(outputs)
    .map(([k, v]) =>
      typeof v === 'string'
        ? `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`
        : `<member><OutputKey>${k}</OutputKey><OutputValue>${v.value}</OutputValue><Description>${v.description}</Description></member>`,
    )
    .join('');
  return `<DescribeStacksResponse xmlns="${CFN_NS}"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackId>arn:aws:cloudformation:${REGION}:123456789012:stack/${name}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="${CFN_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`;
}

describe('resolveStackEndpoint (CloudFormation DescribeStacks, query protocol)', () => {
  const apiOutput = (value: string) => ({ value, description: `${API_URL_DESCRIPTION} (/api/v2): sign requests with SigV4` });
  const stacks: Record<string, Outputs> = {
    Airless: { ApiUrl: 'https://abcdefghij1234567890abcdefghij12.lambda-url.eu-west-1.on.aws/', TableName: 'airless-table' },
    OldAirless: { TableName: 'old-table' },
    // A user's stack with the construct (id Pipelines) beside an API of their own.
    DataPlatform: {
      OrdersApiUrl: { value: 'https://orders.example.com/', description: 'the orders service' },
      PipelinesApiUrl: apiOutput('https://zyxwvutsrq1234567890abcdefghij12.lambda-url.eu-west-1.on.aws/'),
    },
    TwoAirless: { AApiUrl: apiOutput('https://a.lambda-url.eu-west-1.on.aws/'), BApiUrl: apiOutput('https://b.lambda-url.eu-west-1.on.aws/') },
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

  it("finds the construct's output (keyed after its id) in a user's stack, not another API's", async () => {
    const got = await resolveStackEndpoint('DataPlatform');
    expect(got.baseUrl).toBe('https://zyxwvutsrq1234567890abcdefghij12.lambda-url.eu-west-1.on.aws');
  });

  it('refuses to choose between two airless APIs of one stack, naming both', async () => {
    const err = await resolveStackEndpoint('TwoAirless').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackEndpointError);
    expect((err as Error).message).toBe(`stack 'TwoAirless': the stack holds 2 airless APIs (outputs AApiUrl, BApiUrl): name one with --endpoint <its URL> instead of --stack`);
  });

  it('names a stack without an ApiUrl output, and lists the outputs it has', async () => {
    const err = await resolveStackEndpoint('OldAirless').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackEndpointError);
    expect((err as Error).message).toBe(`stack 'OldAirless': the stack has no 'ApiUrl' output (outputs: TableName): deploy it with a version of airless that has the API`);
  });
});

// ---------------------------------------------------------------------------------------------------
// The deployed backend

/** The Step Functions side of the dispatcher, recorded (the AWS boundary). */
function recordingDispatcher(): Dispatcher & { started: string[]; timers: number[] } {
  const started: string[] = [];
  const timers: number[] = [];
  return {
    started,
    timers,
    startLifecycle: async (ti) => void started.push(`${ti.runId}/${ti.taskId}`),
    startTimer: async (at) => void timers.push(at),
    startArrayWaves: async (waves) => void started.push(...waves.map((w) => `${w.array.runId}/${w.array.taskId}#g${w.array.group}`)),
  };
}

describe('deployedApiBackend', () => {
  const pair = dag({ dagId: 'pair', description: 'a -> b' }, ({ task }) => {
    const a = task('a', () => 1);
    task('b', (_ctx, x: number) => x + 1)(a);
  });
  const bundled = { dags: [pair], getDag: (id: string) => (id === 'pair' ? pair : undefined) };
  const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
  const services = (dispatcher: Dispatcher): AwsServices => ({
    store: new MemoryStateStore(),
    dags: bundled,
    dispatcher,
    batch: {
      submit: () => Promise.reject(new Error('no Batch here')),
      describe: () => Promise.reject(new Error('no Batch here')),
    },
    now: () => T0,
  });

  it('serves the bundled DAGs with no import errors, and the function\'s time', () => {
    const backend = deployedApiBackend(services(recordingDispatcher()), bundled);
    expect(backend.dags.dagIds).toStrictEqual(['pair']);
    expect(backend.dags.importErrors).toStrictEqual([]);
    expect(backend.dags.getDag('pair')).toBe(pair);
    expect(backend.now?.().toISOString()).toBe(new Date(T0).toISOString());
  });

  it('starts what the scheduler dispatched (the first task\'s lifecycle) when the call ends, not before', async () => {
    const dispatcher = recordingDispatcher();
    const backend = deployedApiBackend(services(dispatcher), bundled);
    const run = await backend.withScheduler(async ({ scheduler: s, run: step }) => {
      const r = await step(s.triggerRun({ dagId: 'pair', runId: 'r1' }));
      expect(dispatcher.started).toStrictEqual([]);
      return r;
    });
    expect(run.state).toBe('running');
    expect(dispatcher.started).toStrictEqual(['r1/a']);
    expect((await backend.store.getTaskInstance({ dagId: 'pair', runId: 'r1', taskId: 'a', mapIndex: -1 }))?.state).toBe('queued');
  });

  it('still starts what was dispatched when the call fails after it, and throws the call\'s error', async () => {
    const dispatcher = recordingDispatcher();
    const backend = deployedApiBackend(services(dispatcher), bundled);
    const failure = new Error('the route failed after triggering');
    await expect(
      backend.withScheduler(async ({ scheduler: s, run: step }) => {
        await step(s.triggerRun({ dagId: 'pair', runId: 'r2' }));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(dispatcher.started).toStrictEqual(['r2/a']);
  });

  it('reports both errors when starting the executions fails too', async () => {
    const dispatcher: Dispatcher = { ...recordingDispatcher(), startLifecycle: () => Promise.reject(new Error('StartExecution: throttled')) };
    const backend = deployedApiBackend(services(dispatcher), bundled);
    const err = await backend
      .withScheduler(async ({ scheduler: s, run: step }) => {
        await step(s.triggerRun({ dagId: 'pair', runId: 'r3' }));
        throw new Error('the route failed');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toStrictEqual(['the route failed', 'StartExecution: throttled']);
  });

  it('gives the next scheduled logical date (null without a schedule)', async () => {
    const backend = deployedApiBackend(services(recordingDispatcher()), bundled);
    expect(await backend.nextRun?.('pair')).toBeNull();
    expect(await backend.nextRun?.('unknown')).toBeNull();
    const daily = dag({ dagId: 'daily', schedule: '0 2 * * *', startDate: '2026-01-01T00:00:00Z' }, ({ task }) => void task('t', () => 1));
    const svc = { ...services(recordingDispatcher()), dags: { getDag: () => daily } };
    expect(await deployedApiBackend(svc, { dags: [daily], getDag: () => daily }).nextRun?.('daily')).toBe('2026-06-02T02:00:00.000Z');
  });
});

describe('nextScheduledInstant (when the schedule fires next, deployed or standalone)', () => {
  const now = new Date('2026-06-01T12:00:00.000Z');
  const spec = (options: Parameters<typeof dag>[0]) => dag(options, ({ task }) => void task('t', () => 1)).spec;

  it('a cron: its next fire time, in its timezone', () => {
    expect(nextScheduledInstant(spec({ dagId: 'c', schedule: '30 14 * * *', startDate: '2026-01-01T00:00:00Z' }), now, false)?.toISOString()).toBe('2026-06-01T14:30:00.000Z');
    expect(nextScheduledInstant(spec({ dagId: 'c', schedule: { cron: '0 9 * * *', timezone: 'Europe/Paris' }, startDate: '2026-01-01T00:00:00Z' }), now, false)?.toISOString()).toBe('2026-06-02T07:00:00.000Z');
  });

  it('a rate: the next instant of the DAG\'s grid from its startDate', () => {
    expect(nextScheduledInstant(spec({ dagId: 'r', schedule: 'rate(7 minutes)', startDate: '2026-06-01T11:00:00Z' }), now, false)?.toISOString()).toBe('2026-06-01T12:03:00.000Z');
  });

  it('not before the startDate, nothing after the endDate, and none without a schedule', () => {
    expect(nextScheduledInstant(spec({ dagId: 's', schedule: '@daily', startDate: '2026-07-01T00:00:00Z' }), now, false)?.toISOString()).toBe('2026-07-01T00:00:00.000Z');
    expect(nextScheduledInstant(spec({ dagId: 'e', schedule: '@daily', startDate: '2026-01-01T00:00:00Z', endDate: '2026-06-01T18:00:00Z' }), now, false)).toBeNull();
    expect(nextScheduledInstant(spec({ dagId: 'n' }), now, false)).toBeNull();
  });

  it('@once: its startDate while it is ahead and has not run', () => {
    const once = spec({ dagId: 'o', schedule: '@once', startDate: '2026-06-02T00:00:00Z' });
    expect(nextScheduledInstant(once, now, false)?.toISOString()).toBe('2026-06-02T00:00:00.000Z');
    expect(nextScheduledInstant(once, now, true)).toBeNull();
    expect(nextScheduledInstant(once, new Date('2026-06-03T00:00:00Z'), false)).toBeNull();
  });
});
