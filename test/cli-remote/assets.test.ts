import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assetId } from '../../lib/model/asset.ts';
import { cli, useStandalone, until } from './harness.ts';

// `airless assets ...` against a real standalone process (its SQLite store and its scheduler), pointed at with --endpoint.
const suite = useStandalone({ dagsFolder: path.join(import.meta.dirname, 'assets-dags') });
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);

const RAW = 's3://remote-lake/raw.csv';
const CLEAN = 's3://remote-lake/clean.parquet';
const BACKUP = 'file:///remote-backup/clean.parquet';

async function api(urlPath: string): Promise<any> {
  const r = await fetch(`${suite.server().url}${urlPath}`, { headers: { authorization: `Bearer ${suite.server().token}` } });
  return r.json();
}

const consumerRuns = () => api('/api/v2/dags/remote_lake_consumer/dagRuns?order_by=queued_at') as Promise<{ dag_runs: { dag_run_id: string; state: string; run_type: string }[] }>;

describe('airless assets', () => {
  it('list shows the assets, who produces and consumes each, as a table or JSON', async () => {
    const r = await remote('assets', 'list');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id {16}uri +group +producing_tasks +consuming_dags +last_event$/);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/))).toStrictEqual([
      [assetId(BACKUP), BACKUP, 'asset', 'remote_lake_consumer'],
      [assetId(CLEAN), CLEAN, 'asset', 'remote_lake_consumer'],
      [assetId(RAW), `${RAW} (raw)`, 'lake', 'remote_lake_producer.extract', 'remote_lake_consumer'],
    ]);
    const json = JSON.parse((await remote('assets', 'list', '--json')).stdout) as { uri: string; producing_tasks: unknown[] }[];
    expect(json.map((a) => a.uri)).toStrictEqual([BACKUP, CLEAN, RAW]);
    const filtered = JSON.parse((await remote('assets', 'list', '--uri-pattern', 'parquet', '--json')).stdout) as { uri: string }[];
    expect(filtered.map((a) => a.uri)).toStrictEqual([BACKUP, CLEAN]);
  });

  it('materialize --wait runs the producer; its event is listed with its source', async () => {
    const r = await remote('assets', 'materialize', RAW, '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Materializing s3:\/\/remote-lake\/raw\.csv: triggered DAG 'remote_lake_producer', run manual__\S+; following it on --endpoint /);
    const events = await remote('assets', 'events', RAW, '--json');
    const [e] = JSON.parse(events.stdout) as { uri: string; source_kind: string; source_dag_id: string; extra: unknown; created_dagruns: unknown[] }[];
    expect(e).toMatchObject({ uri: RAW, source_kind: 'task', source_dag_id: 'remote_lake_producer', extra: { rows: 3 }, created_dagruns: [] });
    const table = await remote('assets', 'events', '--dag-id', 'remote_lake_producer');
    expect(table.stdout.split('\n')[0]).toMatch(/^timestamp +uri +source +extra +created_runs$/);
    expect(table.stdout).toContain(`${RAW}  remote_lake_producer.extract (manual__`);
    expect(table.stdout).toContain('{"rows":3}');
  });

  it('create-event completes the consumer: it reports the run it started, which runs', async () => {
    const r = await remote('assets', 'create-event', BACKUP, '--extra', '{"restored": true}');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Event of file:\/\/\/remote-backup\/clean\.parquet recorded at \S+ \S+; it started remote_lake_consumer \(run asset_triggered__\S+\)\n$/);
    const runs = await until(consumerRuns, (x) => x.dag_runs.length === 1 && x.dag_runs[0]!.state === 'success');
    expect(runs.dag_runs[0]!.run_type).toBe('asset_triggered');
    const xcom = await api(`/api/v2/dags/remote_lake_consumer/dagRuns/${runs.dag_runs[0]!.dag_run_id}/taskInstances/report/xcomEntries/return_value`);
    expect(xcom.value).toStrictEqual([BACKUP, RAW]);
  });

  it('create-event by id with a dedupe key records once', async () => {
    const first = await remote('assets', 'create-event', assetId(CLEAN), '--dedupe-key', 'k1', '--json');
    expect(first.code).toBe(0);
    const event = JSON.parse(first.stdout) as { id: string; source_kind: string };
    expect(event.source_kind).toBe('api');
    const again = await remote('assets', 'create-event', assetId(CLEAN), '--dedupe-key', 'k1');
    expect(again.stdout).toMatch(/^An event of s3:\/\/remote-lake\/clean\.parquet with dedupe key 'k1' was recorded before \(.*\): nothing recorded\n$/);
    const listed = JSON.parse((await remote('assets', 'events', CLEAN, '--json')).stdout) as { id: string }[];
    expect(listed.map((e) => e.id)).toStrictEqual([event.id]);
  });

  it('refuses bad arguments before asking the server, and says what the server refused (exit 2)', async () => {
    const bad = await remote('assets', 'create-event', 'no scheme');
    expect(bad).toMatchObject({ code: 2, stderr: "error: ASSET must be an asset's uri (a scheme, then no whitespace: s3://bucket/key) or its id (16 hex characters, as `airless assets list` shows); got 'no scheme'\n" });
    const extra = await remote('assets', 'create-event', RAW, '--extra', '[1]');
    expect(extra).toMatchObject({ code: 2, stderr: `error: --extra must be a JSON object such as '{"rows": 42}', got an array\n` });
    const none = await remote('assets', 'materialize', BACKUP);
    expect(none).toMatchObject({ code: 2, stderr: `error: asset '${BACKUP}' cannot be materialized: no loaded DAG produces it (no task has it among its outlets)\n` });
    const unknown = await remote('assets', 'events', '0000000000000000');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: asset '0000000000000000' not found \(assets: /);
    expect((await remote('assets', 'events', '--limit', '0')).code).toBe(2);
  });
});
