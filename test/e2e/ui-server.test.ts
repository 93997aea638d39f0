// `airless ui` against the deployed shape: the real API function (functions/api.ts) behind a local
// Function URL that checks SigV4 as AWS_IAM does, found from the stack's ApiUrl output through a local
// CloudFormation DescribeStacks. The browser's side is plain fetch with the local token, never signed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receive, startFunctionUrl, type FunctionUrlHandler, type LocalFunctionUrl } from '../../e2e/function-url.ts';
import { listenOnLoopback } from '../../e2e/loopback-server.ts';
import { signingFetch } from '../../lib/api/sigv4.ts';
import { resolveStackEndpoint } from '../../lib/cli/stack-endpoint.ts';
import { startUiServer, type UiServer } from '../../lib/ui-server/server.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REGION = 'eu-west-1';
const STACK = 'AirlessUiE2e';
const CALLER = { accessKeyId: 'AKIDUIE2E', secretAccessKey: 'ui-e2e-secret' };
const INDEX = readFileSync(path.join(ROOT, 'ui/dist/index.html'), 'utf8');

describe('airless ui in front of the API function behind a Function URL with AuthType AWS_IAM, on the local cloud', () => {
  let url: LocalFunctionUrl;
  let cloudFormation: { server: Server; endpoint: string };
  let ui: UiServer;
  const stopped: UiServer[] = [];
  const children: ChildProcess[] = [];

  /** A request from the browser's side: plain fetch, the local token unless `token` is null. */
  const local = (p: string, init: RequestInit = {}, token: string | null = ui.token) =>
    fetch(`${ui.url}${p}`, { ...init, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers ?? {}) } });

  beforeAll(async () => {
    const { handler } = (await import('../../functions/api.ts')) as unknown as { handler: FunctionUrlHandler };
    url = await startFunctionUrl({ handler, region: REGION, credentials: { [CALLER.accessKeyId]: CALLER.secretAccessKey } });
    // CloudFormation's DescribeStacks, as far as `--stack NAME` asks it: the stack's ApiUrl output.
    cloudFormation = await listenOnLoopback(async (req, res) => {
      const form = new URLSearchParams(Buffer.from((await receive(req)).body).toString());
      res.setHeader('content-type', 'text/xml');
      res.end(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${form.get('StackName')}</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs><member><OutputKey>ApiUrl</OutputKey><OutputValue>${url.url}</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
      );
    });
    const { baseUrl, fetch: signed } = await resolveStackEndpoint(STACK, { client: { endpoint: cloudFormation.endpoint, credentials: CALLER }, signing: { credentials: CALLER, region: REGION } });
    ui = await startUiServer({ target: { baseUrl, fetch: signed, description: `stack ${STACK} (${baseUrl})` }, port: 0 });
    stopped.push(ui);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of stopped) await s.stop();
    await url?.close();
    if (cloudFormation) await new Promise<void>((resolve, reject) => cloudFormation.server.close((e) => (e ? reject(e) : resolve())));
  });

  it('refuses the proxied routes without the local token (401, as the API answers), before anything is forwarded', async () => {
    const before = url.events.length;
    const none = await local('/api/v2/dags', {}, null);
    expect(none.status).toBe(401);
    expect(await none.json()).toStrictEqual({ detail: 'missing Authorization header: send Authorization: Bearer <token>', field: null });
    const wrong = await local('/api/v2/dags/e2e_chain/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: 'never' }) }, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toStrictEqual({ detail: 'invalid token in the Authorization header', field: null });
    expect((await local('/openapi.json', {}, null)).status).toBe(401);
    expect(url.events.length).toBe(before);
    // Health needs no local token; it is forwarded signed (the Function URL wants a signature even there).
    const health = await local('/api/v2/monitor/health', {}, null);
    expect(await health.json()).toStrictEqual({ status: 'healthy' });
  });

  it('lists the DAGs: the forwarded request was signed with the caller\'s credentials and accepted', async () => {
    const res = await local('/api/v2/dags?limit=100');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { dags: { dag_id: string }[]; total_entries: number };
    expect(body.total_entries).toBe(h().dags.dags.length);
    expect(body.dags.map((d) => d.dag_id)).toEqual(expect.arrayContaining(['e2e_chain', 'e2e_retry', 'example_workflow']));
    const event = url.events.at(-1)!;
    expect(event.requestContext).toMatchObject({ authorizer: { iam: { accessKey: CALLER.accessKeyId } } });
    expect(event.rawQueryString).toBe('limit=100');
    // The local token did not travel on: the function saw the SigV4 Authorization.
    expect(event.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(JSON.stringify(event.headers)).not.toContain(ui.token);
  });

  it('triggers a run with a POST body; it runs on the local Step Functions and reads back as success', async () => {
    const runId = 'ui__e2e_chain';
    const res = await local('/api/v2/dags/e2e_chain/dagRuns', { method: 'POST', body: JSON.stringify({ dag_run_id: runId, note: 'from airless ui' }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dag_run_id: runId, dag_id: 'e2e_chain', run_type: 'manual', note: 'from airless ui' });
    await h().settle();
    const run = await local(`/api/v2/dags/e2e_chain/dagRuns/${runId}`);
    expect(await run.json()).toMatchObject({ dag_run_id: runId, state: 'success' });
    const tis = (await (await local(`/api/v2/dags/e2e_chain/dagRuns/${runId}/taskInstances`)).json()) as { task_instances: { task_id: string; state: string }[] };
    expect(tis.task_instances.map((t) => [t.task_id, t.state]).sort()).toStrictEqual([
      ['extract', 'success'],
      ['load', 'success'],
      ['transform', 'success'],
    ]);
    expect(h().errors).toStrictEqual([]);
  });

  it("passes the API's 400 back unchanged, with its field", async () => {
    const body = JSON.stringify({ is_paused: 'yes' });
    const direct = await signingFetch({ credentials: CALLER, region: REGION })(`${url.url}api/v2/dags/e2e_chain`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body });
    const expected = (await direct.json()) as { detail: string; field: string };
    expect(expected.field).toContain('is_paused');
    const res = await local('/api/v2/dags/e2e_chain', { method: 'PATCH', body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    expect(await res.json()).toStrictEqual(expected);
  });

  it('serves the built UI at / and falls back to its index.html on a deep path', async () => {
    const index = await fetch(`${ui.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toBe(INDEX);
    const deep = await fetch(`${ui.url}/dags/e2e_chain/runs/ui__e2e_chain`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(INDEX);
  });

  it('passes back the 403 of the Function URL when the forwarded request is not signed, or signed with a wrong key', async () => {
    const before = url.events.length;
    const unsigned = await startUiServer({ target: { baseUrl: url.url.replace(/\/$/, ''), description: 'the Function URL, unsigned' }, port: 0 });
    stopped.push(unsigned);
    const res = await fetch(`${unsigned.url}/api/v2/dags`, { headers: { authorization: `Bearer ${unsigned.token}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(await res.json()).toStrictEqual({ Message: 'Forbidden' });

    const wrongKey = await startUiServer({
      target: { baseUrl: url.url.replace(/\/$/, ''), description: 'the Function URL, wrong key', fetch: signingFetch({ credentials: { ...CALLER, secretAccessKey: 'wrong' }, region: REGION }) },
      port: 0,
    });
    stopped.push(wrongKey);
    const refused = await fetch(`${wrongKey.url}/api/v2/dags/e2e_chain/dagRuns`, { method: 'POST', headers: { authorization: `Bearer ${wrongKey.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { Message: string }).Message).toContain('signature we calculated does not match');
    expect(url.events.length).toBe(before);
  });

  it('`airless ui --stack NAME` (a real process): finds the stack, prints the link, serves the UI and the signed API, stops on SIGINT', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: CALLER.accessKeyId, AWS_SECRET_ACCESS_KEY: CALLER.secretAccessKey };
    for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AIRLESS_API_TOKEN']) delete env[k];
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), 'ui', '--stack', STACK, '--port', '0'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const link = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /web UI: +(http:\/\/\S+\/\?token=\S+)/.exec(out);
        if (m && out.includes('Press Ctrl-C')) resolve(m[1]!);
      });
      void exit.then((code) => reject(new Error(`airless ui exited with ${code} before listening:\n${out}\n${err}`)));
    });
    const listening = /airless ui: listening on (http:\/\/\S+)/.exec(out)![1]!;
    expect(link.startsWith(`${listening}/?token=`)).toBe(true);
    expect(out).toContain(`target:  stack ${STACK} (${url.url.replace(/\/$/, '')}), requests signed with SigV4`);
    expect(out).toContain('health:  the target answers');
    const token = decodeURIComponent(new URL(link).searchParams.get('token')!);

    expect(await (await fetch(`${listening}/`)).text()).toBe(INDEX);
    expect((await fetch(`${listening}/api/v2/dags`)).status).toBe(401);
    const dag = await fetch(`${listening}/api/v2/dags/e2e_chain`, { headers: { authorization: `Bearer ${token}` } });
    expect(await dag.json()).toMatchObject({ dag_id: 'e2e_chain', description: 'extract -> transform -> load' });

    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(err).toContain('airless ui: stopped');
    await expect(fetch(`${listening}/`)).rejects.toThrow();
  });
});
