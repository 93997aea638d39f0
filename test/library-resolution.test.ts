// A DAG file's `import ... from 'airless'` is the library that runs it, wherever the file's own resolution
// would lead: here the CLI runs from this repository, whose tsconfig `paths` map 'airless' to the source
// (lib/index.ts), while the CLI is the build (dist/). One copy in the process: a SkipTask thrown by the DAG
// file is the runner's SkipTask (`instanceof` holds), so the task is skipped, not failed.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const HOME = mkdtempSync(path.join(os.tmpdir(), 'airless-libres-home-'));
afterAll(() => rmSync(HOME, { recursive: true, force: true }));

it("resolves a DAG file's 'airless' to the running CLI's library, over a tsconfig's paths", async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, AIRLESS_HOME: HOME, NO_COLOR: '1' };
  delete env['AIRLESS_DAGS_FOLDER'];
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(path.join(ROOT, 'node_modules/.bin/node'), ['bin/airless.js', '--dags-folder', 'test/fixtures/library-resolution', 'dags', 'test', 'which_library', '--json'], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    ),
  );
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as { state: string; tasks: { taskId: string; state: string }[] };
  expect(report.tasks).toMatchObject([{ taskId: 'resolved', state: 'skipped' }]);
});
