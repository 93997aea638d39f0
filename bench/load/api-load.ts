// The API under load (`npm run bench -- --only api-load`): a real standalone server (SQLite store, the
// scheduler, the API on a loopback port) and N concurrent triggers of one DAG without a run id, sent at
// once from this process over HTTP. Counts answers by status, checks that every 200 names a distinct run
// and that every run exists and ends, and reports the time to answer them all and to finish the runs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'node:http';
import { loadDagBag } from '../../lib/dagbag/dag-bag.ts';
import { startStandalone } from '../../lib/standalone/server.ts';

export interface ApiLoadScenario {
  name: 'api-load';
  triggers: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** 5xx answers. */
  serverErrors: number;
  /** 200 answers whose run is not in the store afterwards. */
  lost: number;
  /** Run ids answered more than once (two triggers given the same run). */
  collisions: number;
  /** Runs that had not ended within the wait. */
  unfinished: number;
  /** Time from the first request to the last answer (ms). */
  answerMs: number;
  /** Time from the first request until every run answered 200 ended (ms). */
  finishMs: number;
}

const LIB = path.resolve(import.meta.dirname, '../../lib/index.ts');

export async function runApiLoadScenario(n = Number(process.env.AIRLESS_LOAD_TRIGGERS ?? 1000)): Promise<ApiLoadScenario> {
  const root = mkdtempSync(path.join(tmpdir(), 'airless-load-'));
  const dags = path.join(root, 'dags');
  mkdirSync(dags);
  writeFileSync(path.join(dags, 'load.ts'), `import { dag } from ${JSON.stringify(LIB)};\nexport default dag({ dagId: 'load', maxActiveRuns: 64 }, ({ task }) => { task('t', () => 1); });\n`);
  const server = await startStandalone({ bag: await loadDagBag(dags), home: path.join(root, 'home'), port: 0, watch: false, uiDir: null, warn: () => undefined });
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL(`${server.url}/api/v2/dags/load/dagRuns`);
  const post = () =>
    new Promise<{ status: string; body: string }>((resolve) => {
      const req = request(url, { method: 'POST', agent, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: String(res.statusCode), body }));
      });
      req.on('error', (e) => resolve({ status: `error ${e.message}`, body: '' }));
      req.end('{}');
    });
  try {
    const statuses: Record<string, number> = {};
    const ids: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await post();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === '200') ids.push((JSON.parse(res.body) as { dag_run_id: string }).dag_run_id);
      }),
    );
    const answerMs = performance.now() - t0;
    const unique = new Set(ids);
    let lost = 0;
    let unfinished = 0;
    const deadline = Date.now() + 600_000;
    for (const id of unique) {
      for (;;) {
        const run = await server.runner.store.getRun({ dagId: 'load', runId: id });
        if (!run) {
          lost++;
          break;
        }
        if (run.state === 'success' || run.state === 'failed') break;
        if (Date.now() > deadline) {
          unfinished++;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const finishMs = performance.now() - t0;
    const serverErrors = Object.entries(statuses).reduce((s, [k, v]) => s + (k.startsWith('5') ? v : 0), 0);
    return { name: 'api-load', triggers: n, statuses, serverErrors, lost, collisions: ids.length - unique.size, unfinished, answerMs: Math.round(answerMs), finishMs: Math.round(finishMs) };
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
