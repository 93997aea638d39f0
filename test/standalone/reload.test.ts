import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStateStore, sqliteDatabasePath } from '../../lib/store/sqlite-store.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(path.join(tmpdir(), 'airless-reload-'));
const HOME = path.join(TMP, 'home');
const DAGS = path.join(TMP, 'dags');
const TOKEN = 'test-token-reload-0123456789';
let child: ChildProcess | null = null;
let url = '';
let stderr = '';

const write = (file: string, text: string) => writeFileSync(path.join(DAGS, file), text);

const A_V1 = `import { dag, task } from 'airless';
export const a = dag({ dagId: 'reload_a' }, () => {
  task('one', () => 'v1');
});
`;
const A_V2 = `import { dag, task } from 'airless';
export const a = dag({ dagId: 'reload_a' }, () => {
  const one = task('one', () => 'v2');
  task('two', (_ctx, s: string) => s + '!')(one);
});
`;
// 'wait' holds the run until the gate file exists, so the DAG can change while the run is under way.
const slow = (after: string, extra: boolean) => `import { existsSync } from 'node:fs';
import { dag, task } from 'airless';
export const slow = dag({ dagId: 'reload_slow', params: { gate: { type: 'string' } } }, () => {
  const wait = task('wait', async ({ params }) => {
    while (!existsSync(params.gate)) await new Promise((r) => setTimeout(r, 50));
    return 'opened';
  });
  const after = task('after', () => '${after}');
  after.after(wait);
  ${extra ? "task('extra', () => 'new');" : ''}
});
`;
const HELPER = (v: string) => `export const VALUE = '${v}';\n`;
const USES_HELPER = `import { dag, task } from 'airless';
import { VALUE } from './lib/_value.ts';
export const h = dag({ dagId: 'reload_helper', description: 'value ' + VALUE }, () => {
  task('value', () => VALUE);
});
`;

async function api(p: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Polls `probe` until it returns a value that is not undefined (the server reloads on its own time). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const taskIds = async (dagId: string): Promise<string[] | null> => {
  const r = await api(`/api/v2/dags/${dagId}/tasks`);
  return r.status === 200 ? (r.body.tasks as { task_id: string }[]).map((t) => t.task_id) : null;
};
const dagIds = async (): Promise<string[]> => ((await api('/api/v2/dags')).body.dags as { dag_id: string }[]).map((d) => d.dag_id);

async function finished(dagId: string, runId: string): Promise<string> {
  return until(`run ${runId}`, async () => {
    const state = (await api(`/api/v2/dags/${dagId}/dagRuns/${runId}`)).body.state as string;
    return state === 'queued' || state === 'running' ? undefined : state;
  });
}
const xcom = async (dagId: string, runId: string, taskId: string): Promise<unknown> =>
  (await api(`/api/v2/dags/${dagId}/dagRuns/${runId}/taskInstances/${taskId}/xcomEntries/return_value`)).body.value;
const trigger = async (dagId: string, runId: string, conf: Record<string, unknown> = {}) => {
  const r = await api(`/api/v2/dags/${dagId}/dagRuns`, { method: 'POST', body: JSON.stringify({ dag_run_id: runId, conf }) });
  expect(r.status).toBe(200);
};

beforeAll(async () => {
  mkdirSync(path.join(DAGS, 'lib'), { recursive: true });
  // A project's DAGs are ES modules (without it, tsx takes a .ts file for CommonJS).
  writeFileSync(path.join(DAGS, 'package.json'), '{ "type": "module" }\n');
  // DAG files import 'airless' as a user's do: the package, here this checkout.
  mkdirSync(path.join(DAGS, 'node_modules'));
  symlinkSync(ROOT, path.join(DAGS, 'node_modules', 'airless'));
  write('a.ts', A_V1);
  write('slow.ts', slow('old', false));
  write('lib/_value.ts', HELPER('first'));
  write('uses-helper.ts', USES_HELPER);
  child = spawn(process.execPath, [path.join(ROOT, 'bin/airless.js'), '--dags-folder', DAGS, 'standalone', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, AIRLESS_HOME: HOME, AIRLESS_API_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  let out = '';
  url = await new Promise<string>((resolve, reject) => {
    child!.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /airless standalone: listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.on('exit', (code) => reject(new Error(`airless standalone exited with ${code}:\n${out}\n${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(TMP, { recursive: true, force: true });
}, 30_000);

describe('airless standalone reloads the DAGs folder', () => {
  it('picks up an edited DAG file: its new task is listed and a new run runs the new code', async () => {
    expect(await taskIds('reload_a')).toEqual(['one']);
    await trigger('reload_a', 'a1');
    expect(await finished('reload_a', 'a1')).toBe('success');
    expect(await xcom('reload_a', 'a1', 'one')).toBe('v1');

    write('a.ts', A_V2);
    await until('the new task of reload_a', async () => ((await taskIds('reload_a'))?.includes('two') ? true : undefined));
    await trigger('reload_a', 'a2');
    expect(await finished('reload_a', 'a2')).toBe('success');
    expect(await xcom('reload_a', 'a2', 'one')).toBe('v2');
    expect(await xcom('reload_a', 'a2', 'two')).toBe('v2!');
    expect(stderr).toMatch(/airless standalone: reloaded \S*a\.ts: DAG 'reload_a' changed \(version \w+→\w+\)/);
  }, 60_000);

  it('lets a run under way finish with the version it started with', async () => {
    const gate = path.join(TMP, 'gate');
    const before = (await api('/api/v2/dags/reload_slow')).body.dag_version as string;
    await trigger('reload_slow', 's1', { gate });
    await until('the wait task to run', async () => ((await api('/api/v2/dags/reload_slow/dagRuns/s1/taskInstances/wait')).body.state === 'running' ? true : undefined));

    write('slow.ts', slow('new', true));
    await until('the new version of reload_slow', async () => ((await taskIds('reload_slow'))?.includes('extra') ? true : undefined));
    const after = (await api('/api/v2/dags/reload_slow')).body.dag_version as string;
    expect(after).not.toBe(before);
    writeFileSync(gate, '');
    expect(await finished('reload_slow', 's1')).toBe('success');
    // The API lists the run's own version's tasks: 'extra', added since, is not one of them.
    const tis = (await api('/api/v2/dags/reload_slow/dagRuns/s1/taskInstances')).body.task_instances as { task_id: string; state: string | null }[];
    expect(tis.map((t) => [t.task_id, t.state]).sort()).toEqual([['after', 'success'], ['wait', 'success']]);
    expect(await xcom('reload_slow', 's1', 'after')).toBe('old');

    // A run started after the change has the new version.
    await trigger('reload_slow', 's2', { gate });
    expect(await finished('reload_slow', 's2')).toBe('success');
    expect(await xcom('reload_slow', 's2', 'after')).toBe('new');
    const s2 = (await api('/api/v2/dags/reload_slow/dagRuns/s2/taskInstances')).body.task_instances as { task_id: string }[];
    expect(s2.map((t) => t.task_id).sort()).toEqual(['after', 'extra', 'wait']);

    // The runs' versions, as the store keeps them (read once the server has stopped, below).
    versions.push(['s1', before], ['s2', after]);
  }, 60_000);

  it('adds a DAG from a new file, shows a broken file as an import error, and removes a deleted file’s DAG', async () => {
    write('c.ts', `import { dag, task } from 'airless';\nexport const c = dag({ dagId: 'reload_c' }, () => { task('t', () => 1); });\n`);
    await until('reload_c', async () => ((await dagIds()).includes('reload_c') ? true : undefined));

    write('broken.ts', `import { dag } from 'airless';\nexport const b = dag({ dagId: 'reload_broken' }, () => { const x: number = ; });\n`);
    const errors = await until('the import error of broken.ts', async () => {
      const list = (await api('/api/v2/importErrors')).body.import_errors as { filename: string; stack_trace: string }[];
      return list.some((e) => e.filename === 'broken.ts') ? list : undefined;
    });
    expect(errors.find((e) => e.filename === 'broken.ts')!.stack_trace).not.toMatch(/[?&]airless-reload=/);
    expect(stderr).toMatch(/reloaded \S*broken\.ts: 1 import error/);

    unlinkSync(path.join(DAGS, 'c.ts'));
    await until('reload_c to go', async () => ((await dagIds()).includes('reload_c') ? undefined : true));
    expect(await dagIds()).toEqual(expect.arrayContaining(['reload_a', 'reload_helper', 'reload_slow']));
    expect(stderr).toMatch(/reloaded \S*c\.ts: DAG 'reload_c' removed/);
  }, 60_000);

  it('picks up a change to a helper module a DAG file imports', async () => {
    await trigger('reload_helper', 'h1');
    expect(await finished('reload_helper', 'h1')).toBe('success');
    expect(await xcom('reload_helper', 'h1', 'value')).toBe('first');

    write('lib/_value.ts', HELPER('second'));
    await until('the new description', async () => ((await api('/api/v2/dags/reload_helper')).body.description === 'value second' ? true : undefined));
    await trigger('reload_helper', 'h2');
    expect(await finished('reload_helper', 'h2')).toBe('success');
    expect(await xcom('reload_helper', 'h2', 'value')).toBe('second');
  }, 60_000);

  it('keeps each run’s DAG version in the store', async () => {
    const exited = new Promise((r) => child!.on('exit', r));
    child!.kill('SIGTERM');
    await exited;
    const store = new SqliteStateStore({ path: sqliteDatabasePath(HOME) });
    try {
      for (const [runId, version] of versions) expect((await store.getRun({ dagId: 'reload_slow', runId }))?.dagVersion).toBe(version);
    } finally {
      store.close();
    }
  }, 30_000);
});

const versions: [string, string][] = [];
