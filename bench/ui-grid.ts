// The grid benchmark (`npm run -s bench -- --only ui-grid`): the built web UI in Debian's Chromium
// (playwright-core) against a fake API (route interception, generated JSON in the API's shapes) serving a
// DAG of 100 tasks in 10 task groups with 200 runs. It measures, per page of the grid, the time from the
// grid's last API response (its body parsed) to the grid committed with every cell (the UI's
// `airless:grid-rendered` performance mark, both on the page's clock): the newest page on a fresh load,
// the next (older) page, and a page of 100 runs. Median of 5 fresh loads; target 500 ms for a page.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page, type Route } from 'playwright-core';
import type { components } from '../lib/api/openapi-types.ts';

type DagRun = components['schemas']['DAGRun'];
type Task = components['schemas']['Task'];
type TaskInstance = components['schemas']['TaskInstance'];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'ui/dist');
const CHROMIUM = '/usr/bin/chromium';
/** As test/browser/harness.ts launches it: headless, no sandbox (containers), nothing that phones home. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ORIGIN = 'http://airless.bench';
const DAG_ID = 'bench_grid';
const RUNS = 200;
const TASKS = 100;
const GROUPS = 10;
const LOADS = 5;
const TARGET_MS = 500;
/** The UI's mark (ui/src/pages/grid-panel.tsx GRID_RENDERED_MARK). */
const MARK = 'airless:grid-rendered';

export interface UiGridFigure {
  /** Runs (columns) and task rows of the measured page, and its cells. */
  runs: number;
  rows: number;
  cells: number;
  /** Last API response of the page (parsed) to the grid committed, ms: the median and every load's. */
  medianMs: number;
  allMs: number[];
}

export interface UiGridScenario {
  name: 'ui-grid';
  dagRuns: number;
  tasks: number;
  /** The newest page (25 runs) on a fresh load. */
  firstPage: UiGridFigure;
  /** The next page (runs 26-50), after a click on "Older". */
  olderPage: UiGridFigure;
  /** A page of 100 runs (10,000 cells). */
  hundredRuns: UiGridFigure;
  /** Navigation start to the first page committed, ms (median): the whole load, API included. */
  loadToGridMs: number;
  targetMs: number;
  met: boolean;
}

// The fake API's data ---------------------------------------------------------------------------------

const iso = (ms: number) => new Date(ms).toISOString();
const T0 = Date.parse('2026-01-01T00:00:00Z');

function makeTasks(): Task[] {
  const perGroup = TASKS / GROUPS;
  const ids = Array.from({ length: TASKS }, (_, i) => `group_${Math.floor(i / perGroup)}.task_${i % perGroup}`);
  return ids.map((id, i) => ({
    task_id: id,
    task_display_name: id,
    operator_name: 'task',
    trigger_rule: 'all_success',
    retries: 0,
    // A chain inside each group; each group's first task after the previous group's last.
    upstream_task_ids: i === 0 ? [] : [ids[i - 1]!],
    downstream_task_ids: i === TASKS - 1 ? [] : [ids[i + 1]!],
    is_mapped: false,
    group_id: `group_${Math.floor(i / perGroup)}`,
    pool: 'default_pool',
    doc_md: null,
    trigger_dag_id: null,
    is_setup: false,
    is_teardown: false,
    on_failure_fail_dagrun: false,
    depends_on_past: false,
    wait_for_downstream: false,
  }));
}

function makeRuns(): DagRun[] {
  // Newest first (the API's default order); every 7th run failed.
  return Array.from({ length: RUNS }, (_, k) => {
    const i = RUNS - 1 - k;
    const start = T0 + i * 3_600_000;
    return {
      dag_run_id: `scheduled__${iso(start)}`,
      dag_id: DAG_ID,
      logical_date: iso(start),
      queued_at: iso(start),
      start_date: iso(start + 1000),
      end_date: iso(start + 1000 + 60_000 + (i % 13) * 5000),
      state: i % 7 === 3 ? 'failed' : 'success',
      run_type: i % 10 === 0 ? 'manual' : 'scheduled',
      conf: {},
      note: null,
      backfill_id: null,
      triggered_by_parent: null,
      dag_version: 'v1',
    };
  });
}

function makeTis(run: DagRun, tasks: readonly Task[], failedAt: number | null): TaskInstance[] {
  const start = Date.parse(run.start_date!);
  return tasks.map((t, j) => {
    const state = failedAt === null || j < failedAt ? 'success' : j === failedAt ? 'failed' : 'upstream_failed';
    return {
      task_id: t.task_id,
      dag_id: DAG_ID,
      dag_run_id: run.dag_run_id,
      map_index: -1,
      state,
      try_number: state === 'upstream_failed' ? 0 : 1,
      max_tries: 1,
      start_date: iso(start + j * 500),
      end_date: iso(start + j * 500 + 400),
      queued_when: iso(start + j * 500 - 50),
      duration: 0.4,
      operator_name: 'task',
      pool: 'default_pool',
      note: null,
      error: null,
      next_at: null,
      external_id: null,
    };
  });
}

function fakeApi() {
  const tasks = makeTasks();
  const runs = makeRuns();
  const tis = new Map(runs.map((r, k) => [r.dag_run_id, JSON.stringify({ task_instances: makeTis(r, tasks, r.state === 'failed' ? (k * 17) % TASKS : null), total_entries: TASKS })]));
  const dag = {
    dag_id: DAG_ID,
    dag_display_name: DAG_ID,
    description: 'the grid benchmark: 100 tasks in 10 groups, 200 runs',
    fileloc: null,
    is_paused: false,
    tags: [],
    timetable_summary: '@hourly',
    timetable_description: null,
    max_active_runs: 16,
    max_active_tasks: 16,
    has_import_errors: false,
    next_dagrun_logical_date: null,
    last_parsed_time: null,
    dag_version: 'v1',
    params: {},
    params_schema: { type: 'object', properties: {} },
    catchup: false,
    start_date: null,
    end_date: null,
    doc_md: null,
    owners: [],
  };
  /** The JSON body for an API path and query, or null (404). */
  return (pathname: string, query: URLSearchParams): string | null => {
    const base = `/api/v2/dags/${DAG_ID}`;
    if (pathname === base) return JSON.stringify(dag);
    if (pathname === `${base}/tasks`) return JSON.stringify({ tasks, total_entries: tasks.length });
    if (pathname === `${base}/dagVersions`) return JSON.stringify({ dag_versions: [], total_entries: 0 });
    if (pathname === `${base}/dagRuns`) {
      const states = query.getAll('state');
      const types = query.getAll('run_type');
      const matching = runs.filter((r) => (states.length === 0 || states.includes(r.state)) && (types.length === 0 || types.includes(r.run_type)));
      const offset = Number(query.get('offset') ?? 0);
      const limit = Number(query.get('limit') ?? 100);
      return JSON.stringify({ dag_runs: matching.slice(offset, offset + limit), total_entries: matching.length });
    }
    const m = /^\/api\/v2\/dags\/[^/]+\/dagRuns\/([^/]+)\/taskInstances$/.exec(pathname);
    if (m) return tis.get(decodeURIComponent(m[1]!)) ?? null;
    return null;
  };
}

// The browser side --------------------------------------------------------------------------------------

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** Records, on the page's clock, when each API response's body has been parsed (what the grid waits for). */
const INIT_SCRIPT = `
  localStorage.setItem('airless.apiToken', 'bench-token');
  window.__apiDone = [];
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const res = await originalFetch(...args);
    const url = typeof args[0] === 'string' ? args[0] : args[0].url;
    if (!url.includes('/api/v2/')) return res;
    for (const method of ['json', 'text']) {
      const read = res[method].bind(res);
      res[method] = async () => {
        const body = await read();
        window.__apiDone.push(performance.now());
        return body;
      };
    }
    return res;
  };
`;

/** What the page function below reads of the page's globals. */
interface BrowserGlobals {
  performance: { getEntriesByName(name: string, type: 'mark'): { startTime: number; detail: { runs: number; rows: number } }[] };
  __apiDone: number[];
  document: { querySelectorAll(selector: string): { length: number } };
}

/** Waits for the grid's next mark after `since` with `runs` columns; returns the mark's time and the last API response before it. */
async function nextMark(page: Page, since: number, runs: number): Promise<{ at: number; apiAt: number; rows: number; cells: number }> {
  const handle = await page.waitForFunction(
    ([mark, after, n]) => {
      // Runs in the page (this file's tsconfig has no DOM types: the page's globals, typed here).
      const g = globalThis as unknown as BrowserGlobals;
      const m = g.performance.getEntriesByName(mark, 'mark').find((e) => e.startTime > after && e.detail.runs === n);
      if (m === undefined) return null;
      const api = g.__apiDone.filter((t) => t <= m.startTime);
      return { at: m.startTime, apiAt: Math.max(...api), rows: m.detail.rows, cells: g.document.querySelectorAll('[data-testid="grid-cell"]').length };
    },
    [MARK, since, runs] as const,
    { timeout: 60_000, polling: 50 },
  );
  return (await handle.jsonValue()) as { at: number; apiAt: number; rows: number; cells: number };
}

const now = (page: Page) => page.evaluate(() => performance.now());

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round = (x: number) => Math.round(x * 10) / 10;

function figure(samples: { ms: number; runs: number; rows: number; cells: number }[]): UiGridFigure {
  const first = samples[0]!;
  return { runs: first.runs, rows: first.rows, cells: first.cells, medianMs: round(median(samples.map((s) => s.ms))), allMs: samples.map((s) => round(s.ms)) };
}

export async function runUiGridScenario(): Promise<UiGridScenario> {
  // Measure what the checkout holds: build the UI first.
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'ui/vite.config.ts'), logLevel: 'warn' });
  const api = fakeApi();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const first: { ms: number; runs: number; rows: number; cells: number }[] = [];
  const older: typeof first = [];
  const hundred: typeof first = [];
  const loads: number[] = [];
  try {
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      await context.addInitScript(INIT_SCRIPT);
      await context.route(`${ORIGIN}/**`, async (route: Route) => {
        const url = new URL(route.request().url());
        if (url.pathname.startsWith('/api/v2/')) {
          const body = api(url.pathname, url.searchParams);
          await route.fulfill(body === null ? { status: 404, contentType: 'application/json', body: JSON.stringify({ detail: `not in the benchmark's fake API: ${url.pathname}`, field: null }) } : { status: 200, contentType: 'application/json', body });
          return;
        }
        const file = path.join(DIST, url.pathname === '/' ? 'index.html' : url.pathname);
        if (!file.startsWith(DIST)) return route.fulfill({ status: 404 });
        try {
          await route.fulfill({ status: 200, contentType: CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', body: readFileSync(file) });
        } catch {
          await route.fulfill({ status: 404 });
        }
      });
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/#/dags/${DAG_ID}`);
      const a = await nextMark(page, 0, 25);
      if (a.cells !== 25 * TASKS) throw new Error(`the grid shows ${a.cells} cells, expected ${25 * TASKS}`);
      first.push({ ms: a.at - a.apiAt, runs: 25, rows: a.rows, cells: a.cells });
      loads.push(a.at);

      let since = await now(page);
      await page.getByTestId('runs-older').click();
      const b = await nextMark(page, since, 25);
      const oldest = await page.getByTestId('grid-run').first().getAttribute('data-run-id');
      if (oldest !== makeRunsIdAt(49)) throw new Error(`the older page starts at ${oldest}, expected ${makeRunsIdAt(49)}`);
      older.push({ ms: b.at - b.apiAt, runs: 25, rows: b.rows, cells: b.cells });

      since = await now(page);
      await page.getByTestId('filter-page-size').selectOption('100');
      const c = await nextMark(page, since, 100);
      if (c.cells !== 100 * TASKS) throw new Error(`the grid shows ${c.cells} cells, expected ${100 * TASKS}`);
      hundred.push({ ms: c.at - c.apiAt, runs: 100, rows: c.rows, cells: c.cells });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const firstPage = figure(first);
  const olderPage = figure(older);
  return {
    name: 'ui-grid',
    dagRuns: RUNS,
    tasks: TASKS,
    firstPage,
    olderPage,
    hundredRuns: figure(hundred),
    loadToGridMs: round(median(loads)),
    targetMs: TARGET_MS,
    met: firstPage.medianMs <= TARGET_MS && olderPage.medianMs <= TARGET_MS,
  };
}

/** The id of the run at position `k` of the API's newest-first list. */
function makeRunsIdAt(k: number): string {
  return `scheduled__${iso(T0 + (RUNS - 1 - k) * 3_600_000)}`;
}

export function uiGridTable(r: UiGridScenario): string {
  const line = (what: string, f: UiGridFigure) =>
    `  ${what.padEnd(28)} ${String(f.runs).padStart(3)} runs x ${f.rows} rows (${f.cells.toLocaleString('en-US')} cells): median ${f.medianMs.toFixed(1)} ms  [${f.allMs.map((x) => x.toFixed(0)).join(', ')}]`;
  return [
    '',
    `the web UI's grid (${r.dagRuns} runs x ${r.tasks} tasks in groups, fake API, Chromium): last API response to grid committed, ${LOADS} loads`,
    line('newest page (fresh load)', r.firstPage),
    line('older page (click)', r.olderPage),
    line('100 runs per page', r.hundredRuns),
    `  navigation to the newest page committed: median ${r.loadToGridMs.toFixed(0)} ms`,
    `  target: a page in at most ${r.targetMs} ms: ${r.met ? 'met' : 'MISSED'}`,
    '',
  ].join('\n');
}
