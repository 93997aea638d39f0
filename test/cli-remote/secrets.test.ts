import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { cli, useStandalone } from './harness.ts';

// `airless variables ...` and `airless connections ...` against a real standalone process (its SQLite store).
const suite = useStandalone();
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);
const dir = mkdtempSync(path.join(os.tmpdir(), 'airless-cli-secrets-'));

describe('airless variables', () => {
  it('set, get, list, delete; a sensitive value shows as ***', async () => {
    expect(await remote('variables', 'set', 'region', 'eu-west-1', '--description', 'where')).toEqual({ code: 0, stdout: "variable 'region' set\n", stderr: '' });
    expect((await remote('variables', 'set', 'region', 'us-east-2')).code).toBe(0);
    expect((await remote('variables', 'set', 'cfg', '{"n": 3}')).code).toBe(0);
    expect((await remote('variables', 'set', 'db_password', 'hunter2-long')).code).toBe(0);
    expect((await remote('variables', 'get', 'region')).stdout).toBe('us-east-2\n');
    expect((await remote('variables', 'get', 'cfg', '--json')).stdout).toBe('{"n":3}\n');
    expect((await remote('variables', 'get', 'db_password')).stdout).toBe('***\n');
    expect((await remote('variables', 'get', 'absent', '--default', 'dflt')).stdout).toBe('dflt\n');
    expect(await remote('variables', 'get', 'absent')).toEqual({ code: 2, stdout: '', stderr: "error: variable 'absent' not found\n" });
    const list = await remote('variables', 'list');
    expect(list.stdout).toMatch(/^key +value +description\n/);
    expect(list.stdout).toMatch(/\nregion +us-east-2 +where\n/);
    expect(list.stdout).toMatch(/\ndb_password +\*\*\*\n/);
    expect((await remote('variables', 'delete', 'cfg')).stdout).toBe("variable 'cfg' deleted\n");
    expect((await remote('variables', 'delete', 'cfg')).code).toBe(2);
  });

  it('import and export JSON files (Airflow format); importing *** keeps a sensitive value', async () => {
    const file = path.join(dir, 'vars.json');
    writeFileSync(file, JSON.stringify({ imp_a: 'text', imp_b: { nested: [1, 2] }, imp_c: { value: 'described', description: 'a note' }, imp_token: 'tok-abcdef' }));
    expect(await remote('variables', 'import', file)).toEqual({ code: 0, stdout: `4 variables imported from ${file}\n`, stderr: '' });
    expect((await remote('variables', 'get', 'imp_b')).stdout).toBe('{"nested":[1,2]}\n');
    const out = path.join(dir, 'out.json');
    expect((await remote('variables', 'export', out)).code).toBe(0);
    const exported = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(exported).toMatchObject({ imp_a: 'text', imp_b: { nested: [1, 2] }, imp_c: 'described', imp_token: '***' });
    // Importing the export again changes nothing: the masked token keeps its value.
    expect((await remote('variables', 'import', out)).code).toBe(0);
    // As the server's SQLite file holds it.
    const db = new DatabaseSync(path.join(suite.server().home, 'airless.db'), { readOnly: true });
    try {
      expect(db.prepare('SELECT value FROM variables WHERE key = ?').get('imp_token')?.value).toBe('tok-abcdef');
    } finally {
      db.close();
    }
    writeFileSync(file, '[1]');
    expect(await remote('variables', 'import', file)).toEqual({ code: 2, stdout: '', stderr: `error: ${file} must hold a JSON object of variables (key: value)\n` });
  });
});

describe('airless connections', () => {
  it('set from a URI or from fields, get, list, delete; the password shows as ***', async () => {
    expect((await remote('connections', 'set', 'warehouse', '--conn-uri', 'postgresql://etl:p%40ss-word@db.internal:5432/dw?sslmode=require')).stdout).toBe("connection 'warehouse' set\n");
    const got = await remote('connections', 'get', 'warehouse', '--json');
    expect(JSON.parse(got.stdout)).toEqual({ connection_id: 'warehouse', conn_type: 'postgres', description: null, host: 'db.internal', login: 'etl', schema: 'dw', port: 5432, password: '***', extra: '{"sslmode":"require"}' });
    expect((await remote('connections', 'set', 'api', '--conn-type', 'http', '--conn-host', 'api.example.com', '--conn-port', '443', '--conn-extra', '{"timeout": 5}')).code).toBe(0);
    const list = await remote('connections', 'list');
    expect(list.stdout).toMatch(/^conn_id +conn_type +host +port +login +schema +description\n/);
    expect(list.stdout).toMatch(/\napi +http +api\.example\.com +443\n/);
    expect(list.stdout).toMatch(/\nwarehouse +postgres +db\.internal +5432 +etl +dw\n/);
    expect((await remote('connections', 'get', 'warehouse')).stdout).toMatch(/\npassword +\*\*\*\n/);
    expect(await remote('connections', 'set', 'bad', '--conn-uri', 'postgres://u:pw@h:port/db')).toEqual({ code: 2, stdout: '', stderr: "error: connection 'bad' from --conn-uri: invalid port 'port' in connection URI postgres://u:***@h:port/db\n" });
    expect((await remote('connections', 'set', 'bad')).stderr).toBe('error: give --conn-uri URI, or --conn-type TYPE (and the other --conn-* fields)\n');
    expect((await remote('connections', 'delete', 'api')).stdout).toBe("connection 'api' deleted\n");
    expect(await remote('connections', 'get', 'api')).toEqual({ code: 2, stdout: '', stderr: "error: connection 'api' not found\n" });
  });

  it('import and export (Airflow JSON format, or URIs)', async () => {
    const file = path.join(dir, 'conns.json');
    writeFileSync(file, JSON.stringify({ imp_db: { conn_type: 'mysql', host: 'h', login: 'u', password: 'pw-imported', port: 3306, extra: { charset: 'utf8' } }, imp_uri: 'http://user:pw2-imported@web:8080' }));
    expect((await remote('connections', 'import', file)).stdout).toBe(`2 connections imported from ${file}\n`);
    const out = path.join(dir, 'conns-out.json');
    expect((await remote('connections', 'export', out)).code).toBe(0);
    const exported = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(exported.imp_db).toEqual({ conn_type: 'mysql', description: null, host: 'h', login: 'u', password: '***', schema: null, port: 3306, extra: { charset: 'utf8' } });
    expect(exported.imp_uri).toEqual({ conn_type: 'http', description: null, host: 'web', login: 'user', password: '***', schema: null, port: 8080, extra: null });
    writeFileSync(file, JSON.stringify({ x: { conn_type: 'http', hots: 'typo' } }));
    expect((await remote('connections', 'import', file)).stderr).toBe(`error: connection 'x' from ${file}: unknown field 'hots' (fields: conn_type, host, login, password, schema, port, extra, description)\n`);
  });
});
