// A task's ctx.variables and ctx.connections, and the masking of what they return in the task's log: in
// process (`dags test`) and in worker isolation (the standalone), where the worker thread masks the
// secrets it read before its lines reach the runner.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dag, task } from '../lib/index.ts';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner } from '../lib/runner/local-runner.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';
import type { StateStore } from '../lib/store/state-store.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-secrets-'));
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function logOf(store: StateStore, dagId: string, runId: string, taskId: string): Promise<string[]> {
  return (await store.getLog({ dagId, runId, taskId, mapIndex: -1 }, 1)).map((l) => l.message);
}

describe('ctx.variables and ctx.connections in a task', () => {
  it('reads the store and the environment, and its log shows secrets as ***', async () => {
    const store = new MemoryStateStore();
    await store.putVariable({ key: 'region', value: 'eu-west-1', description: null });
    await store.putVariable({ key: 'vendor_api_key', value: 'vk-in-process-1', description: null });
    await store.putConnection({ connectionId: 'warehouse', connType: 'postgres', host: 'db.internal', login: 'etl', password: 'pw-in-process-1', schema: 'dw', port: 5432, extra: '{"sslmode":"require"}', description: null });
    process.env.AIRLESS_VAR_BATCH_SIZE = '{"n": 500}';
    cleanup.push(() => delete process.env.AIRLESS_VAR_BATCH_SIZE);
    const d = dag({ dagId: 'secrets_in_process' }, () => {
      task('use', async (ctx) => {
        const conn = await ctx.connections.get('warehouse');
        const size = await ctx.variables.get<{ n: number }>('batch_size', { json: true });
        const key = await ctx.variables.get('vendor_api_key');
        ctx.log.info(`connecting to ${conn.getUri()} in ${await ctx.variables.get('region')} with password ${conn.password}`);
        console.log('api key', key, 'batch', size.n);
        return { host: conn.host, sslmode: conn.extraDejson.sslmode, n: size.n, missing: await ctx.variables.get('nope', { default: 'dflt' }) };
      });
      task('missing', async (ctx) => ctx.connections.get('nowhere'));
    });
    const runner = new LocalRunner({ dags: [d], store, clock: new FakeClock(Date.UTC(2026, 0, 1)) });
    cleanup.push(() => runner.close());
    const report = await runner.run({ dagId: 'secrets_in_process' });
    expect((await store.getXCom(report, 'use', -1, 'return_value'))?.value).toStrictEqual({ host: 'db.internal', sslmode: 'require', n: 500, missing: 'dflt' });
    const log = await logOf(store, report.dagId, report.runId, 'use');
    expect(log).toContain('connecting to postgres://etl:***@db.internal:5432/dw?sslmode=require in eu-west-1 with password ***');
    expect(log).toContain('api key *** batch 500');
    expect(log.join('\n')).not.toMatch(/pw-in-process-1|vk-in-process-1/);
    const missing = (await logOf(store, report.dagId, report.runId, 'missing')).join('\n');
    expect(missing).toContain("ConnectionNotFoundError: connection 'nowhere' not found (looked in environment variable AIRLESS_CONN_NOWHERE, then the airless store)");
  });

  it('in worker isolation: the worker reads through the runner and masks its own lines', async () => {
    const dir = path.join(TMP, 'dags');
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'airless'));
    writeFileSync(
      path.join(dir, 'secrets.ts'),
      `import { dag, task } from 'airless';
export const d = dag({ dagId: 'secrets_worker' }, () => {
  task('use', async (ctx) => {
    const api = await ctx.connections.get('api');
    const db = await ctx.connections.get('db');
    ctx.log.info('api', api.host, api.password, 'db', db.password);
    console.log('token', await ctx.variables.get('service_token'));
    return [api.host, db.schema];
  });
});
`,
    );
    const bag = await loadDagBag(dir);
    expect(bag.importErrors).toEqual([]);
    const store = new SqliteStateStore({ path: path.join(TMP, 'airless.db') });
    cleanup.push(() => store.close());
    await store.putConnection({ connectionId: 'db', connType: 'mysql', host: 'h', login: 'u', password: 'pw-worker-store-2', schema: 'sales', port: null, extra: null, description: null });
    await store.putVariable({ key: 'service_token', value: 'tok-worker-2', description: null });
    process.env.AIRLESS_CONN_API = 'https://user:pw-worker-env-2@api.example.com';
    cleanup.push(() => delete process.env.AIRLESS_CONN_API);
    const runner = new LocalRunner({ dags: bag, store, clock: new FakeClock(Date.UTC(2026, 0, 1)), isolation: 'worker' });
    cleanup.push(() => runner.close());
    const report = await runner.run({ dagId: 'secrets_worker' });
    expect(report.state).toBe('success');
    expect((await store.getXCom(report, 'use', -1, 'return_value'))?.value).toStrictEqual(['api.example.com', 'sales']);
    const log = await logOf(store, report.dagId, report.runId, 'use');
    expect(log).toContain('api api.example.com *** db ***');
    expect(log).toContain('token ***');
  });
});
