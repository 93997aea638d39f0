import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, useStandalone } from './harness.ts';

// `airless pools ...` against a real standalone process (its SQLite store), pointed at with --endpoint.
const suite = useStandalone();
const remote = (...args: string[]) => cli([...args, '--endpoint', suite.server().url]);
const dir = mkdtempSync(path.join(os.tmpdir(), 'airless-pools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('airless pools', () => {
  it('set creates a pool, set again changes it (keeping its description), get and list show it', async () => {
    const created = await remote('pools', 'set', 'api_throttle', '4', '--description', 'the vendor API');
    expect(created).toMatchObject({ code: 0, stdout: "Pool 'api_throttle' created: 4 slots\n" });
    const changed = await remote('pools', 'set', 'api_throttle', '2');
    expect(changed).toMatchObject({ code: 0, stdout: "Pool 'api_throttle' set: 2 slots\n" });
    const got = await remote('pools', 'get', 'api_throttle', '--json');
    expect(JSON.parse(got.stdout)).toStrictEqual({
      name: 'api_throttle',
      slots: 2,
      description: 'the vendor API',
      include_deferred: false,
      occupied_slots: 0,
      running_slots: 0,
      queued_slots: 0,
      deferred_slots: 0,
      open_slots: 2,
    });
    const list = await remote('pools', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines.slice(0, 2)).toStrictEqual(['pool          slots  running  queued  open  description', '------------  -----  -------  ------  ----  --------------']);
    // The fixture DAGs' scheduled runs may hold slots of default_pool.
    expect(lines[2]).toMatch(/^default_pool {4}128 +\d+ +\d+ +\d+ {2}Default pool$/);
    expect(lines[3]).toBe('api_throttle      2        0       0     2  the vendor API');
    const json = await remote('pools', 'list', '--json');
    expect((JSON.parse(json.stdout) as { name: string }[]).map((p) => p.name)).toStrictEqual(['default_pool', 'api_throttle']);
  });

  it('refuses bad slots and names before asking the server (exit 2)', async () => {
    const slots = await remote('pools', 'set', 'p', 'many');
    expect(slots).toMatchObject({ code: 2, stderr: "error: SLOTS: slots must be an integer >= 0, or -1 for unlimited; got 'many'\n" });
    expect((await remote('pools', 'set', 'p', '-2')).stderr).toBe("error: SLOTS: slots must be an integer >= 0, or -1 for unlimited; got '-2'\n");
    const name = await remote('pools', 'set', 'a b', '1');
    expect(name).toMatchObject({ code: 2, stderr: "error: pool name 'a b' may hold only letters, digits, '_', '.' and '-'\n" });
  });

  it('delete: a pool goes; default_pool and unknown pools are refused (exit 2)', async () => {
    expect((await remote('pools', 'set', 'scratch', '-1')).stdout).toBe("Pool 'scratch' created: unlimited slots\n");
    expect(await remote('pools', 'delete', 'scratch')).toMatchObject({ code: 0, stdout: "Pool 'scratch' deleted\n" });
    expect((await remote('pools', 'get', 'scratch')).code).toBe(2);
    const def = await remote('pools', 'delete', 'default_pool');
    expect(def).toMatchObject({ code: 2, stderr: "error: pool 'default_pool' cannot be deleted (set its slots instead)\n" });
    const none = await remote('pools', 'delete', 'nope');
    expect(none).toMatchObject({ code: 2, stderr: "error: pool 'nope' does not exist\n" });
  });

  it('export writes an Airflow pools file; import creates and changes pools from one', async () => {
    const out = path.join(dir, 'pools.json');
    expect((await remote('pools', 'export', out)).code).toBe(0);
    const exported = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(exported['api_throttle']).toStrictEqual({ slots: 2, description: 'the vendor API', include_deferred: false });
    const file = path.join(dir, 'in.json');
    writeFileSync(file, JSON.stringify({ api_throttle: { slots: 6, description: 'more' }, gpu: { slots: 1 } }));
    const imported = await remote('pools', 'import', file);
    expect(imported).toMatchObject({ code: 0, stdout: '2 pool(s) imported: api_throttle, gpu\n' });
    const pools = JSON.parse((await remote('pools', 'list', '--json')).stdout) as { name: string; slots: number; description: string | null }[];
    expect(pools.map((p) => [p.name, p.slots, p.description])).toStrictEqual([
      ['default_pool', 128, 'Default pool'],
      ['api_throttle', 6, 'more'],
      ['gpu', 1, null],
    ]);
    writeFileSync(file, JSON.stringify({ gpu: { slots: 'two' } }));
    const bad = await remote('pools', 'import', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/in\.json: pool 'gpu': slots must be an integer >= 0, or -1 for unlimited; got "two"\n$/);
  });
});
