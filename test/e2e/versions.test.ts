// Deployed DAG versions on the local cloud: each deploy's DAG code stays in the bucket while runs use it
// and a run's version selects it. A run started on the first deploy's code (v1) and caught by a redeploy
// (v2) finishes on v1, its retry after the redeploy included, while a new run runs v2; once the old run
// has ended, a reconciler round prunes v1's code (retaining none) and v2's stays.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deploymentOfFolder, type Deployment } from '../../e2e/deployment.ts';
import { startHarness, type Harness } from '../../e2e/harness.ts';
import type { EmulatorEndpoints } from '../../e2e/vitest-context.ts';
import { createApiApp } from '../../lib/api/app.ts';
import { deployedApiBackend } from '../../lib/aws/api-backend.ts';
import type { AwsServices } from '../../lib/aws/handlers.ts';
import type { DagRunRecord } from '../../lib/store/records.ts';

const DAG_ID = 'e2e_versions';
/** The global promise the `gate` task waits for (the test opens it once the redeploy is done). */
const GATE = Symbol.for('airless.e2e.versions.gate');
/** The environment variable naming the ledger file the tasks append to. */
const LEDGER_ENV = 'AIRLESS_E2E_VERSIONS_LEDGER';

/** The DAG: every task notes in the ledger which code ran it (CODE, from a helper module). */
const DAG_SOURCE = `import { appendFileSync } from 'node:fs';
import { dag, type TaskContext } from 'airless';
import { CODE } from './code.ts';

function note(ctx: TaskContext): void {
  appendFileSync(process.env['${LEDGER_ENV}']!, JSON.stringify({ runId: ctx.runId, task: ctx.taskId, try: ctx.tryNumber, code: CODE }) + '\\n');
}

export const versioned = dag({ dagId: '${DAG_ID}', description: 'tasks that say which code ran them' }, ({ task }) => {
  const first = task('first', (ctx) => {
    note(ctx);
    return CODE;
  });
  const gate = task('gate', async (ctx) => {
    note(ctx);
    await (globalThis as unknown as Record<symbol, { promise: Promise<void> } | undefined>)[Symbol.for('airless.e2e.versions.gate')]?.promise;
    return CODE;
  });
  const flaky = task(
    'flaky',
    (ctx) => {
      note(ctx);
      if (ctx.tryNumber === 1) throw new Error('the first try fails');
      return CODE;
    },
    { retries: 1, retryDelay: '30s' },
  );
  flaky.after(gate);
  gate.after(first);
});
`;

interface LedgerLine {
  runId: string;
  task: string;
  try: number;
  code: string;
}

/** A copy of the DAGs folder whose helper says `code`. */
function dagsFolder(code: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `airless-e2e-versions-${code}-`));
  writeFileSync(path.join(dir, 'versioned.ts'), DAG_SOURCE);
  writeFileSync(path.join(dir, 'code.ts'), `export const CODE = ${JSON.stringify(code)};\n`);
  return dir;
}

let harness: Harness | undefined;
const h = (): Harness => harness!;
let v1: Deployment;
let v2: Deployment;
let ledger: string;
const ledgerLines = (): LedgerLine[] =>
  existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LedgerLine) : [];

beforeAll(async () => {
  ledger = path.join(mkdtempSync(path.join(tmpdir(), 'airless-e2e-ledger-')), 'ledger.jsonl');
  appendFileSync(ledger, '');
  process.env[LEDGER_ENV] = ledger;
  v1 = await deploymentOfFolder(dagsFolder('v1'), ['versioned.ts']);
  v2 = await deploymentOfFolder(dagsFolder('v2'), ['versioned.ts']);
  const emulators: EmulatorEndpoints | null | undefined = inject('emulators');
  harness = await startHarness({
    ...(emulators === undefined ? { handlers: 'core' as const } : {}),
    ...(emulators ? { emulators } : {}),
    deployment: v1,
    // The reconciler's rounds prune: keeping no version but the current one and those runs use.
    reconciler: true,
    versionsRetained: 0,
  });
});

afterAll(async () => {
  await harness?.close();
});

async function exists(key: string): Promise<boolean> {
  try {
    await h().s3.client.send(new HeadObjectCommand({ Bucket: h().s3.bucket, Key: key }));
    return true;
  } catch (e) {
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw e;
  }
}

async function waitFor(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a redeploy in the middle of a run', () => {
  let oldRun: DagRunRecord;
  let newRun: DagRunRecord;
  let v1Version: string;
  let v2Version: string;

  it('leaves the run on its version, its retry included, while a new run runs the new code', async () => {
    v1Version = h().dags.getDag(DAG_ID)!.spec.version;
    let open!: () => void;
    (globalThis as unknown as Record<symbol, unknown>)[GATE] = { promise: new Promise<void>((r) => (open = r)) };
    const started = await h().trigger({ dagId: DAG_ID, runId: 'versions__old' });
    expect(started.dagVersion).toBe(v1Version);
    await waitFor('the gate task to run', () => ledgerLines().some((l) => l.runId === 'versions__old' && l.task === 'gate'));

    // New function code and its bundles, mid-run.
    await h().redeploy(v2);
    v2Version = h().dags.getDag(DAG_ID)!.spec.version;
    expect(v2Version).not.toBe(v1Version);
    // The functions no longer have v1 in memory: the old run's next steps load it from the bucket.
    expect(h().dags.getDag(DAG_ID, v1Version)?.spec.version).not.toBe(v1Version);

    open();
    await h().settle();
    oldRun = (await h().store.getRun({ dagId: DAG_ID, runId: 'versions__old' }))!;
    expect(oldRun.state).toBe('success');
    expect(oldRun.dagVersion).toBe(v1Version);

    newRun = await h().run({ dagId: DAG_ID, runId: 'versions__new' });
    expect(newRun.state).toBe('success');
    expect(newRun.dagVersion).toBe(v2Version);

    const old = ledgerLines().filter((l) => l.runId === 'versions__old');
    expect(old.map((l) => `${l.task}#${l.try}:${l.code}`)).toEqual(['first#1:v1', 'gate#1:v1', 'flaky#1:v1', 'flaky#2:v1']);
    const fresh = ledgerLines().filter((l) => l.runId === 'versions__new');
    expect(fresh.map((l) => `${l.task}#${l.try}:${l.code}`)).toEqual(['first#1:v2', 'gate#1:v2', 'flaky#1:v2', 'flaky#2:v2']);
    expect(h().errors).toEqual([]);
  });

  it('prunes the old version\'s code once no run uses it, and keeps the current one', async () => {
    // The reconciler's last round (no run left) pruned: settle waited for it.
    await h().settle();
    const v1Record = await h().store.getDagVersion(DAG_ID, v1Version);
    const v2Record = await h().store.getDagVersion(DAG_ID, v2Version);
    expect(v1Record?.prunedAt).not.toBeNull();
    expect(v2Record?.prunedAt).toBeNull();
    expect(await h().bundles.manifest(v1Record!.bundle!)).toBeUndefined();
    // Every object of v1's bundle is gone from the bucket (its module, its sources); v2's are there.
    const v1Keys = ['bundle.mjs', 'manifest.json', 'src/code.ts', 'src/versioned.ts'].map((f) => h().bundles.key(v1Record!.bundle!, f));
    expect(await Promise.all(v1Keys.map(exists))).toEqual([false, false, false, false]);
    expect(await exists(h().bundles.key(v2Record!.bundle!, 'bundle.mjs'))).toBe(true);
    expect(await h().bundles.manifest(v2Record!.bundle!)).toMatchObject({ hash: v2Record!.bundle, entry: expect.stringMatching(/versioned\.ts$/) });
    expect((await h().bundles.readFile(v2Record!.bundle!, (await h().bundles.manifest(v2Record!.bundle!))!.files.find((f) => f.path.endsWith('code.ts'))!.path))?.toString()).toContain('v2');

    // The deployed API serves a version's files from the bucket; v1's code is gone, and it says so.
    const noDispatch = (): Promise<never> => Promise.reject(new Error('nothing is dispatched by a GET'));
    const services: AwsServices = {
      store: h().store,
      dags: h().dags,
      dispatcher: { startLifecycle: noDispatch, startTimer: noDispatch, startArrayWaves: noDispatch },
      batch: { submit: noDispatch, describe: noDispatch },
      bundles: h().bundles,
    };
    const api = await createApiApp({ backend: deployedApiBackend(services, h().dags), auth: { mode: 'iam' } });
    try {
      const codeFile = (await h().bundles.manifest(v2Record!.bundle!))!.files.find((f) => f.path.endsWith('code.ts'))!.path;
      const source = await api.inject({ method: 'GET', url: `/api/v2/dags/${DAG_ID}/dagVersions/${v2Version}/source?path=${encodeURIComponent(codeFile)}` });
      expect(source.statusCode).toBe(200);
      expect(source.json()).toStrictEqual({ path: codeFile, content: 'export const CODE = "v2";\n' });
      const pruned = await api.inject({ method: 'GET', url: `/api/v2/dags/${DAG_ID}/dagVersions/${v1Version}` });
      expect(pruned.json()).toMatchObject({ version: v1Version, pruned_at: v1Record!.prunedAt, files: null });
    } finally {
      await api.close();
    }
    expect(h().errors).toEqual([]);
  });
});
