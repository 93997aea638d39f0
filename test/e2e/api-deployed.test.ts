// The REST API in the deployed shape: the real API function (functions/api.ts: @fastify/aws-lambda
// around the app, the DynamoDB store, the bundled DAGs, dispatches through the real SfnDispatcher to the
// local Step Functions) behind a local Function URL that checks SigV4 as AWS_IAM does, called through
// the typed client with the signing fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receive, type LocalFunctionUrl } from '../../e2e/function-url.ts';
import { listenOnLoopback } from '../../e2e/loopback-server.ts';
import { createApiClient, unwrap, type ApiClient } from '../../lib/api/client.ts';
import { signingFetch } from '../../lib/api/sigv4.ts';
import { resolveStackEndpoint } from '../../lib/cli/stack-endpoint.ts';
import { startDeployedApi } from './deployed-api.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness();

const REGION = 'eu-west-1';
const CALLER = { accessKeyId: 'AKIDAPIE2E', secretAccessKey: 'api-e2e-secret' };

describe('the API function behind a Function URL with AuthType AWS_IAM, on the local cloud', () => {
  let url: LocalFunctionUrl;
  let api: ApiClient;

  beforeAll(async () => {
    ({ url, api } = await startDeployedApi(CALLER, REGION));
  });
  afterAll(async () => {
    await url?.close();
  });

  it('refuses a request that is not signed, signed with a wrong key or by an unknown caller (403), before the function sees it', async () => {
    const before = url.events.length;
    const unsigned = await fetch(`${url.url}api/v2/dags`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toStrictEqual({ Message: 'Forbidden' });
    const wrongKey = await signingFetch({ credentials: { ...CALLER, secretAccessKey: 'wrong' }, region: REGION })(`${url.url}api/v2/dags`);
    expect(wrongKey.status).toBe(403);
    expect(((await wrongKey.json()) as { Message: string }).Message).toContain('signature we calculated does not match');
    const stranger = await signingFetch({ credentials: { accessKeyId: 'AKIDSTRANGER', secretAccessKey: 'x' }, region: REGION })(`${url.url}api/v2/dags`);
    expect(stranger.status).toBe(403);
    // Even health: AWS checks the signature before any route.
    expect((await fetch(`${url.url}api/v2/monitor/health`)).status).toBe(403);
    expect(url.events.length).toBe(before);
  });

  it('answers signed requests: health, and the bundled DAGs with no import errors', async () => {
    expect(unwrap(await api.GET('/api/v2/monitor/health'))).toStrictEqual({ status: 'healthy' });
    const dags = unwrap(await api.GET('/api/v2/dags', { params: { query: { limit: 100 } } }));
    expect(dags.total_entries).toBe(h().dags.dags.length);
    expect(dags.dags.map((d) => d.dag_id)).toEqual(expect.arrayContaining(['e2e_chain', 'e2e_retry', 'example_workflow']));
    expect(dags.dags.every((d) => !d.has_import_errors)).toBe(true);
    expect(unwrap(await api.GET('/api/v2/importErrors'))).toStrictEqual({ import_errors: [], total_entries: 0 });
    // The function saw what the caller signed: the IAM caller in the event's request context.
    expect(url.events.at(-1)!.requestContext).toMatchObject({ authorizer: { iam: { accessKey: CALLER.accessKeyId } } });
  });

  it('triggers a run whose tasks run as Step Functions executions, and shows it succeed with its XComs', async () => {
    const runId = 'api__e2e_chain';
    const run = unwrap(await api.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: 'e2e_chain' } }, body: { dag_run_id: runId, note: 'from the API' } }));
    expect(run).toMatchObject({ dag_run_id: runId, dag_id: 'e2e_chain', run_type: 'manual', note: 'from the API' });
    expect(['queued', 'running']).toContain(run.state);
    // The trigger started the first task's lifecycle on the local Step Functions.
    expect([...h().sfn.executions.values()].some((e) => e.stateMachineArn.endsWith(h().naming.lifecycle('try')) && (JSON.parse(e.input) as { key: { taskId: string } }).key.taskId === 'extract')).toBe(true);
    await h().settle();

    expect(unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { dag_id: 'e2e_chain', dag_run_id: runId } } })).state).toBe('success');
    const tis = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances', { params: { path: { dag_id: 'e2e_chain', dag_run_id: runId } } }));
    expect(tis.total_entries).toBe(3);
    expect(tis.task_instances.map((t) => [t.task_id, t.state, t.try_number]).sort()).toStrictEqual([
      ['extract', 'success', 1],
      ['load', 'success', 1],
      ['transform', 'success', 1],
    ]);
    const xcom = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}', { params: { path: { dag_id: 'e2e_chain', dag_run_id: runId, task_id: 'transform', xcom_key: 'return_value' } } }));
    expect(xcom).toMatchObject({ key: 'return_value', task_id: 'transform', map_index: -1, value: [1, 2, 3] });
    // Repeated query parameters reach the app as a list (a Function URL joins them with ',').
    const runs = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: 'e2e_chain' }, query: { state: ['success', 'failed'] } } }));
    expect(runs.dag_runs.map((r) => r.dag_run_id)).toContain(runId);
    expect(url.events.at(-1)!.rawQueryString).toBe('state=success&state=failed');
    expect(h().errors).toStrictEqual([]);
  });

  it('clears a task and its downstream: they run again (try 2) on the local Step Functions and the run succeeds again', async () => {
    const runId = 'api__e2e_chain';
    const path = { dag_id: 'e2e_chain' };
    const dry = unwrap(await api.POST('/api/v2/dags/{dag_id}/clearTaskInstances', { params: { path }, body: { dag_run_id: runId, task_ids: ['transform'], include_downstream: true } }));
    expect(dry.task_instances.map((t) => [t.task_id, t.next_try]).sort()).toStrictEqual([
      ['load', 2],
      ['transform', 2],
    ]);
    // A dry run (the default, as Airflow) changed nothing.
    expect(unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { ...path, dag_run_id: runId } } })).state).toBe('success');

    const cleared = unwrap(await api.POST('/api/v2/dags/{dag_id}/clearTaskInstances', { params: { path }, body: { dag_run_id: runId, task_ids: ['transform'], include_downstream: true, dry_run: false } }));
    expect(cleared.task_instances.map((t) => t.task_id).sort()).toStrictEqual(['load', 'transform']);
    expect(cleared.dag_run_state).not.toBe('success');
    await h().settle();

    expect(unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path: { ...path, dag_run_id: runId } } })).state).toBe('success');
    const transform = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { ...path, dag_run_id: runId, task_id: 'transform' } } }));
    expect(transform).toMatchObject({ state: 'success', try_number: 2 });
    // Try 1 keeps how it ended.
    expect(transform.tries.map((t) => [t.try_number, t.state])).toStrictEqual([
      [1, 'success'],
      [2, 'success'],
    ]);
    const extract = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { ...path, dag_run_id: runId, task_id: 'extract' } } }));
    expect(extract.try_number).toBe(1);
    // The rerun's result is stored again.
    const xcom = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries', { params: { path: { ...path, dag_run_id: runId, task_id: 'load' } } }));
    expect(xcom.xcom_entries.map((x) => x.value)).toStrictEqual([{ loaded: 3 }]);
    expect(h().errors).toStrictEqual([]);
  });

  it('shows a failed task\'s log of each try (retries waited in Step Functions)', async () => {
    const runId = 'api__e2e_retry';
    unwrap(await api.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: 'e2e_retry' } }, body: { dag_run_id: runId } }));
    await h().settle();
    const path = { dag_id: 'e2e_retry', dag_run_id: runId };
    expect(unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}', { params: { path } })).state).toBe('failed');
    const ti = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { ...path, task_id: 'always_fails' } } }));
    expect(ti).toMatchObject({ state: 'failed', try_number: 4, max_tries: 4 });
    expect(ti.note).toContain('the source is unavailable');
    const log = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', { params: { path: { ...path, task_id: 'always_fails', try_number: 2 } } }));
    const events = log.content.map((l) => l.event).join('\n');
    expect(events).toContain('try 2 of 4: calling the source');
    expect(events).not.toContain('try 1 of 4');
    const after = unwrap(await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}', { params: { path: { ...path, task_id: 'after' } } }));
    expect(after.state).toBe('upstream_failed');
    // An unknown try is a 404 naming the field, through the Function URL as from the app.
    const missing = await api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}', { params: { path: { ...path, task_id: 'always_fails', try_number: 9 } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ field: 'params.try_number' });
  });

  it('pauses and unpauses a DAG; a malformed body is a 400 naming the field', async () => {
    const paused = unwrap(await api.PATCH('/api/v2/dags/{dag_id}', { params: { path: { dag_id: 'e2e_chain' } }, body: { is_paused: true } }));
    expect(paused).toMatchObject({ dag_id: 'e2e_chain', is_paused: true });
    expect((await h().store.getDagRecord('e2e_chain'))?.paused).toBe(true);
    const list = unwrap(await api.GET('/api/v2/dags', { params: { query: { paused: true } } }));
    expect(list.dags.map((d) => d.dag_id)).toStrictEqual(['e2e_chain']);
    expect(unwrap(await api.PATCH('/api/v2/dags/{dag_id}', { params: { path: { dag_id: 'e2e_chain' } }, body: { is_paused: false } })).is_paused).toBe(false);

    const bad = await api.PATCH('/api/v2/dags/{dag_id}', { params: { path: { dag_id: 'e2e_chain' } }, body: { is_paused: 'yes' } as unknown as { is_paused: boolean } });
    expect(bad.response.status).toBe(400);
    expect(bad.error).toMatchObject({ field: expect.stringContaining('is_paused') });
  });

  it('is found from the stack\'s ApiUrl output (CloudFormation DescribeStacks), as `--stack NAME` does', async () => {
    const { server, endpoint } = await listenOnLoopback(async (req, res) => {
      const form = new URLSearchParams(Buffer.from((await receive(req)).body).toString());
      res.setHeader('content-type', 'text/xml');
      res.end(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${form.get('StackName')}</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs><member><OutputKey>ApiUrl</OutputKey><OutputValue>${url.url}</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
      );
    });
    try {
      const target = await resolveStackEndpoint('AirlessE2e', { client: { endpoint, credentials: CALLER }, signing: { credentials: CALLER, region: REGION } });
      expect(target.baseUrl).toBe(url.url.replace(/\/$/, ''));
      const client = createApiClient({ baseUrl: target.baseUrl, fetch: target.fetch });
      const dag = unwrap(await client.GET('/api/v2/dags/{dag_id}', { params: { path: { dag_id: 'e2e_chain' } } }));
      expect(dag).toMatchObject({ dag_id: 'e2e_chain', description: 'extract -> transform -> load', fileloc: 'e2e/e2e_chain.ts' });
    } finally {
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    }
  });
});
