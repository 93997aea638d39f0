/**
 * The grid, the graph, the Gantt chart and the run-duration chart in Debian's Chromium, against a real
 * standalone server on test/browser/fixtures/grid/: `grid_paging` (paused: 27 manual runs and a 3-day
 * backfill stay queued) and `grid_groups` (a nested task group and a mapped task: two green runs and one
 * asked to fail). The grid pages to the older runs and back, with each run's date; filters by run type and
 * by state; collapses a group to one row with its summary state and expands it again. The graph draws the
 * groups as boxes around their tasks, fits its box, zooms (buttons, wheel), pans and fits again. A run's
 * Gantt chart has a bar per instance; the duration chart a bar per run of the grid's page, paging with it.
 * Screenshots of each step go to test/browser/screenshots/.
 */
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone } from './harness.ts';

const PAGING = 'grid_paging';
const GROUPS = 'grid_groups';
const MANUAL = 27;
const PAGE = 25;

let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('grid-graph');

interface ApiRun {
  dag_run_id: string;
  state: string;
  run_type: string;
  logical_date: string;
}

async function apiRuns(dagId: string, query: string): Promise<{ runs: ApiRun[]; total: number }> {
  const r = await api(server, 'GET', `/api/v2/dags/${dagId}/dagRuns?${query}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return { runs: r.json.dag_runs, total: r.json.total_entries };
}

async function trigger(dagId: string, body: Record<string, unknown>): Promise<void> {
  const r = await api(server, 'POST', `/api/v2/dags/${dagId}/dagRuns`, body);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
}

beforeAll(async () => {
  server = await startStandalone({ dagsFolder: path.join(import.meta.dirname, 'fixtures/grid') });
  expect((await api(server, 'PATCH', `/api/v2/dags/${PAGING}`, { is_paused: true })).status).toBe(200);
  for (let i = 0; i < MANUAL; i++) {
    await trigger(PAGING, { dag_run_id: `run_${String(i).padStart(2, '0')}`, logical_date: new Date(Date.UTC(2026, 10, 1, i, 7)).toISOString() });
  }
  const backfill = await api(server, 'POST', '/api/v2/backfills', { dag_id: PAGING, from_date: '2026-10-01T00:00:00Z', to_date: '2026-10-03T23:00:00Z' });
  expect(backfill.status, JSON.stringify(backfill.json)).toBe(200);
  await trigger(GROUPS, { dag_run_id: 'ok_1', logical_date: '2026-11-02T10:00:00Z', conf: { fail: false } });
  await trigger(GROUPS, { dag_run_id: 'ok_2', logical_date: '2026-11-02T11:00:00Z', conf: { fail: false } });
  await trigger(GROUPS, { dag_run_id: 'bad_1', logical_date: '2026-11-02T12:00:00Z', conf: { fail: true } });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { runs } = await apiRuns(GROUPS, '');
    if (runs.map((r) => `${r.dag_run_id}:${r.state}`).join(' ') === 'bad_1:failed ok_2:success ok_1:success') break;
    if (Date.now() > deadline) throw new Error(`the runs of ${GROUPS} did not end: ${JSON.stringify(runs.map((r) => [r.dag_run_id, r.state]))}\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  browser = await launchBrowser();
  page = browser.page;
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
}, 170_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The run ids of the grid's columns, left (oldest) to right. */
function gridRunIds(): Promise<(string | null)[]> {
  return page.getByTestId('grid-run').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
}

/** Waits until the grid shows exactly these runs (oldest on the left). */
async function expectGridRuns(runs: readonly ApiRun[]): Promise<void> {
  await expect.poll(gridRunIds, { timeout: 15_000 }).toEqual(runs.map((r) => r.dag_run_id).reverse());
}

function box(locator: Locator) {
  return locator.boundingBox().then((b) => {
    if (b === null) throw new Error('not rendered');
    return b;
  });
}

function inside(inner: { x: number; y: number; width: number; height: number }, outer: { x: number; y: number; width: number; height: number }): boolean {
  const e = 0.5;
  return inner.x >= outer.x - e && inner.y >= outer.y - e && inner.x + inner.width <= outer.x + outer.width + e && inner.y + inner.height <= outer.y + outer.height + e;
}

describe('grid, graph, Gantt and duration chart on a standalone server', () => {
  it('shows the newest page of runs with their dates, pages to the older runs and back', async () => {
    const all = await apiRuns(PAGING, 'limit=1000');
    expect(all.total).toBeGreaterThanOrEqual(MANUAL + 3);
    const newest = await apiRuns(PAGING, `limit=${PAGE}`);
    const older = await apiRuns(PAGING, `limit=${PAGE}&offset=${PAGE}`);
    await page.goto(`${server.url}/#/dags/${PAGING}`);
    await expectGridRuns(newest.runs);
    const range = page.getByTestId('runs-range');
    expect(await range.getAttribute('data-total')).toBe(String(all.total));
    expect(await range.textContent()).toContain(`runs 1–${PAGE} of ${all.total}`);
    // Each column's header has its run's logical date, as MM-DD HH:mm in the browser's time zone.
    const dates = await page.getByTestId('grid-run-date').allTextContents();
    const expected = await page.evaluate(
      (isos) =>
        isos.map((iso) => {
          const d = new Date(iso);
          const two = (n: number) => String(n).padStart(2, '0');
          return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
        }),
      newest.runs.map((r) => r.logical_date).reverse(),
    );
    expect(dates).toEqual(expected);
    expect(dates.every((d) => /^\d\d-\d\d \d\d:\d\d$/.test(d))).toBe(true);
    expect(new Set(dates).size).toBe(dates.length);
    expect(await page.getByTestId('runs-newer').isDisabled()).toBe(true);
    await shot(page, 'grid-newest');

    await page.getByTestId('runs-older').click();
    await expectGridRuns(older.runs);
    expect(older.runs.length).toBe(all.total - PAGE);
    expect(await range.textContent()).toContain(`runs ${PAGE + 1}–${all.total} of ${all.total}`);
    expect(await page.getByTestId('runs-older').isDisabled()).toBe(true);
    // The oldest runs are on this page, with their (queued: no instance yet) cells.
    await page.locator('[data-testid="grid-cell"][data-run-id="backfill__2026-10-01T02:00:00.000Z"][data-task-id="only"][data-state="none"]').waitFor();
    await shot(page, 'grid-older');

    await page.getByTestId('runs-newer').click();
    await expectGridRuns(newest.runs);
  });

  it('filters the runs by run type and by state', async () => {
    const backfills = await apiRuns(PAGING, 'run_type=backfill');
    expect(backfills.runs.map((r) => r.dag_run_id)).toEqual(['backfill__2026-10-03T02:00:00.000Z', 'backfill__2026-10-02T02:00:00.000Z', 'backfill__2026-10-01T02:00:00.000Z']);
    await page.getByTestId('filter-run-type').selectOption('backfill');
    await expectGridRuns(backfills.runs);
    expect(await page.getByTestId('grid-run').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-type')))).toEqual(['backfill', 'backfill', 'backfill']);
    expect(await page.getByTestId('runs-range').getAttribute('data-total')).toBe('3');
    await shot(page, 'filter-backfill');

    // Manual runs: 27, so two pages of them.
    await page.getByTestId('filter-run-type').selectOption('manual');
    await expectGridRuns((await apiRuns(PAGING, `run_type=manual&limit=${PAGE}`)).runs);
    expect(await page.getByTestId('runs-range').getAttribute('data-total')).toBe(String(MANUAL));
    await page.getByTestId('runs-older').click();
    await expectGridRuns([{ dag_run_id: 'run_01' }, { dag_run_id: 'run_00' }] as ApiRun[]);

    // Both filters at once: no backfill run failed. A filter change goes back to the newest page.
    await page.getByTestId('filter-run-type').selectOption('backfill');
    await expect.poll(() => page.getByTestId('runs-range').getAttribute('data-from')).toBe('1');
    await page.getByTestId('filter-state').selectOption('failed');
    await page.getByTestId('no-runs').getByText('No runs match the filters.').waitFor();
    expect(await page.getByTestId('grid-run').count()).toBe(0);
    await page.getByTestId('filter-state').selectOption('');
    await page.getByTestId('filter-run-type').selectOption('');
    await expectGridRuns((await apiRuns(PAGING, `limit=${PAGE}`)).runs);

    // By state, on the DAG whose runs ran (each DAG keeps its own filters).
    await page.goto(`${server.url}/#/dags/${GROUPS}`);
    await expectGridRuns((await apiRuns(GROUPS, '')).runs);
    await page.getByTestId('filter-state').selectOption('failed');
    await expectGridRuns([{ dag_run_id: 'bad_1' }] as ApiRun[]);
    await page.locator('[data-testid="grid-cell"][data-run-id="bad_1"][data-task-id="prepare.clean"][data-state="failed"]').waitFor();
    await shot(page, 'filter-failed');
    await page.getByTestId('filter-state').selectOption('success');
    await expectGridRuns([{ dag_run_id: 'ok_2' }, { dag_run_id: 'ok_1' }] as ApiRun[]);
    await page.getByTestId('filter-state').selectOption('');
    await expectGridRuns((await apiRuns(GROUPS, '')).runs);
  });

  it('collapses a task group to one row with its most telling state, and expands it again', async () => {
    const groupRows = page.getByTestId('grid-group-row');
    expect(await groupRows.evaluateAll((els) => els.map((e) => e.getAttribute('data-group-id')))).toEqual(['prepare', 'prepare.checks']);
    const prepareTasks = ['prepare.fetch', 'prepare.clean', 'prepare.checks.check_a', 'prepare.checks.check_b'];
    for (const t of prepareTasks) expect(await page.locator(`[data-testid="grid-row"][data-task-id="${t}"]`).count()).toBe(1);
    const rowOrder = await page.locator('tbody tr').evaluateAll((els) => els.map((e) => e.getAttribute('data-group-id') ?? e.getAttribute('data-task-id')));
    expect(rowOrder).toEqual(['start', 'prepare', 'prepare.fetch', 'prepare.clean', 'prepare.checks', 'prepare.checks.check_a', 'prepare.checks.check_b', 'square', 'end']);

    const toggle = page.locator('[data-testid="grid-group-toggle"][data-group-id="prepare"]');
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    for (const t of prepareTasks) expect(await page.locator(`[data-testid="grid-row"][data-task-id="${t}"]`).count()).toBe(0);
    expect(await groupRows.count()).toBe(1);
    // A failed run's group cell shows failed (clean failed, the checks upstream_failed); a green run's success.
    const groupCell = (runId: string) => page.locator(`[data-testid="grid-group-cell"][data-group-id="prepare"][data-run-id="${runId}"]`);
    expect(await groupCell('bad_1').getAttribute('data-state')).toBe('failed');
    expect(await groupCell('ok_2').getAttribute('data-state')).toBe('success');
    await shot(page, 'group-collapsed');

    await toggle.click();
    for (const t of prepareTasks) expect(await page.locator(`[data-testid="grid-row"][data-task-id="${t}"]`).count()).toBe(1);
    // The nested group on its own: its cell of the failed run is upstream_failed.
    expect(await page.locator('[data-testid="grid-group-cell"][data-group-id="prepare.checks"][data-run-id="bad_1"]').getAttribute('data-state')).toBe('upstream_failed');
    await shot(page, 'group-expanded');
  });

  it('draws the task groups as boxes around their tasks, fits the graph in its box, zooms, pans and fits again', async () => {
    await page.getByTestId('tab-graph').click();
    const nodes = page.getByTestId('graph-node');
    await expect.poll(() => nodes.count()).toBe(7);
    const graphBox = page.getByTestId('graph-box');
    const viewport = page.getByTestId('graph-viewport');
    const groups = page.getByTestId('graph-group');
    expect(await groups.evaluateAll((els) => els.map((e) => e.getAttribute('data-group-id')))).toEqual(['prepare', 'prepare.checks']);
    expect(await groups.locator('text').allTextContents()).toEqual(['prepare', 'checks']);

    const allInside = async () => {
      const outer = await box(graphBox);
      const parts = [...(await nodes.all()), ...(await groups.all()), ...(await page.locator('.graph-edge').all())];
      for (const p of parts) if (!inside(await box(p), outer)) return false;
      return true;
    };
    const groupHolds = async (groupId: string, taskIds: string[]) => {
      const g = await box(page.locator(`[data-testid="graph-group"][data-group-id="${groupId}"] rect`));
      for (const t of taskIds) if (!inside(await box(page.locator(`[data-testid="graph-node"][data-task-id="${t}"]`)), g)) return false;
      return true;
    };
    await expect.poll(allInside).toBe(true);
    expect(await groupHolds('prepare', ['prepare.fetch', 'prepare.clean', 'prepare.checks.check_a', 'prepare.checks.check_b'])).toBe(true);
    expect(await groupHolds('prepare.checks', ['prepare.checks.check_a', 'prepare.checks.check_b'])).toBe(true);
    expect(await groupHolds('prepare.checks', ['prepare.fetch'])).toBe(false);
    expect(await groupHolds('prepare', ['start'])).toBe(false);
    const fitScale = Number(await viewport.getAttribute('data-scale'));
    await shot(page, 'graph-groups-fit');

    const scale = async () => Number(await viewport.getAttribute('data-scale'));
    await page.getByTestId('graph-zoom-in').click();
    await page.getByTestId('graph-zoom-in').click();
    expect(await scale()).toBeCloseTo(fitScale * 1.25 * 1.25, 3);
    await shot(page, 'graph-zoomed-in');
    await page.getByTestId('graph-zoom-out').click();
    expect(await scale()).toBeCloseTo(fitScale * 1.25, 3);

    // The wheel zooms about the pointer.
    const b = await box(graphBox);
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
    await page.mouse.wheel(0, 300);
    await expect.poll(scale).toBeLessThan(fitScale * 1.25);

    // A drag pans.
    const before = Number(await viewport.getAttribute('data-x'));
    await page.mouse.move(b.x + 20, b.y + 20);
    await page.mouse.down();
    await page.mouse.move(b.x + 80, b.y + 50, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => Number(await viewport.getAttribute('data-x'))).toBeCloseTo(before + 60, 0);
    await shot(page, 'graph-panned');

    await page.getByTestId('graph-fit').click();
    expect(await scale()).toBeCloseTo(fitScale, 3);
    await expect.poll(allInside).toBe(true);

    // A click on a task (no drag) still opens it.
    await page.locator('[data-testid="graph-node"][data-task-id="end"]').click();
    await page.locator('[data-testid="ti-details"]').waitFor();
    await page.getByTestId('tab-grid').click();
  });

  it("shows a run's Gantt chart: a bar per task instance, coloured by state, on a time axis", async () => {
    await page.locator('[data-testid="grid-run"][data-run-id="ok_2"]').click();
    await page.getByTestId('run-details').waitFor();
    await page.getByTestId('run-tab-gantt').click();
    expect(await page.getByTestId('run-tab-gantt').getAttribute('aria-selected')).toBe('true');
    const rows = page.getByTestId('gantt-row');
    await expect.poll(() => rows.count()).toBe(9);
    const ids = await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-task-id')}/${e.getAttribute('data-map-index')}`));
    expect(ids).toEqual(['start/-1', 'prepare.fetch/-1', 'prepare.clean/-1', 'prepare.checks.check_a/-1', 'prepare.checks.check_b/-1', 'square/0', 'square/1', 'square/2', 'end/-1']);
    expect(await rows.evaluateAll((els) => els.every((e) => e.getAttribute('data-state') === 'success'))).toBe(true);
    expect(await page.getByTestId('gantt-bar').count()).toBe(9);
    expect(await page.getByTestId('gantt-tick').count()).toBeGreaterThanOrEqual(2);
    // Bars lie on their track, and the first task starts before the last ends.
    const track = await box(page.locator('[data-testid="gantt-row"][data-task-id="start"] .gantt-track'));
    const first = await box(page.locator('[data-testid="gantt-row"][data-task-id="start"] [data-testid="gantt-bar"]'));
    const last = await box(page.locator('[data-testid="gantt-row"][data-task-id="end"] [data-testid="gantt-bar"]'));
    expect(inside(first, { ...track, y: track.y - 1, height: track.height + 2 })).toBe(true);
    expect(first.x).toBeLessThan(last.x + last.width);
    expect(last.x + last.width).toBeGreaterThan(first.x + first.width - 0.5);
    await shot(page, 'gantt');

    // A failed run: clean failed, the checks and the end never started (no bar).
    await page.locator('[data-testid="grid-run"][data-run-id="bad_1"]').click();
    await page.locator('[data-testid="run-details"][data-run-id="bad_1"]').waitFor();
    await page.locator('[data-testid="gantt-row"][data-task-id="prepare.clean"][data-state="failed"]').waitFor();
    expect(await page.locator('[data-testid="gantt-row"][data-task-id="prepare.checks.check_a"]').getAttribute('data-state')).toBe('upstream_failed');
    expect(await page.locator('[data-testid="gantt-row"][data-task-id="prepare.checks.check_a"] [data-testid="gantt-bar"]').count()).toBe(0);
    await shot(page, 'gantt-failed');
    await page.getByTestId('run-tab-details').click();
    await page.getByTestId('run-conf').waitFor();
  });

  it("charts the durations of the grid's page of runs, coloured by state, and pages with the grid", async () => {
    const runs = await apiRuns(GROUPS, '');
    await page.getByTestId('tab-durations').click();
    const bars = page.getByTestId('duration-bar');
    const barIds = () => bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
    await expect.poll(barIds).toEqual(['ok_1', 'ok_2', 'bad_1']);
    expect(await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(runs.runs.map((r) => r.state).reverse());
    expect(await bars.evaluateAll((els) => els.every((e) => Number(e.getAttribute('data-seconds')) > 0))).toBe(true);
    expect(await page.getByTestId('duration-tick').count()).toBe(5);
    await shot(page, 'durations');
    await page.getByTestId('filter-state').selectOption('failed');
    await expect.poll(barIds).toEqual(['bad_1']);
    await page.getByTestId('filter-state').selectOption('');

    // Paging: the chart and the grid show the same page.
    const newest = await apiRuns(PAGING, `limit=${PAGE}`);
    const older = await apiRuns(PAGING, `limit=${PAGE}&offset=${PAGE}`);
    await page.goto(`${server.url}/#/dags/${PAGING}?view=durations`);
    await expect.poll(barIds).toEqual(newest.runs.map((r) => r.dag_run_id).reverse());
    await shot(page, 'durations-paging');
    await page.getByTestId('runs-older').click();
    await expect.poll(barIds).toEqual(older.runs.map((r) => r.dag_run_id).reverse());
    await page.getByTestId('tab-grid').click();
    await expectGridRuns(older.runs);
  });

  it('marks setup (↗) and teardown (↘) tasks in the grid and the graph, and shows why the DAG was auto-paused', async () => {
    const ST = 'grid_setup_teardown';
    const tasks = await api(server, 'GET', `/api/v2/dags/${ST}/tasks`);
    expect(tasks.json.tasks.map((t: { task_id: string; is_setup: boolean; is_teardown: boolean; trigger_rule: string }) => [t.task_id, t.is_setup, t.is_teardown, t.trigger_rule])).toEqual([
      ['create', true, false, 'all_success'],
      ['work', false, false, 'all_success'],
      ['remove', false, true, 'all_done_setup_success'],
    ]);
    await trigger(ST, { dag_run_id: 'st_1', logical_date: '2026-11-03T10:00:00Z' });
    // The failed run pauses the DAG (one failed run in a row is its limit).
    await expect.poll(async () => (await api(server, 'GET', `/api/v2/dags/${ST}`)).json.paused_reason, { timeout: 60_000 }).toBe('auto-paused after 1 consecutive failed run');
    expect((await apiRuns(ST, '')).runs.map((r) => [r.dag_run_id, r.state])).toEqual([['st_1', 'failed']]);
    const tis = await api(server, 'GET', `/api/v2/dags/${ST}/dagRuns/st_1/taskInstances`);
    expect(tis.json.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state]).sort()).toEqual([
      ['create', 'success'],
      ['remove', 'success'],
      ['work', 'failed'],
    ]);

    await page.goto(`${server.url}/#/dags/${ST}`);
    await page.getByTestId(`dag-paused-reason-${ST}`).waitFor();
    expect(await page.getByTestId(`dag-paused-reason-${ST}`).textContent()).toBe('auto-paused after 1 consecutive failed run');
    await expectGridRuns([{ dag_run_id: 'st_1' }] as ApiRun[]);
    const markers = (scope: string) => page.locator(`${scope} [data-testid="setup-teardown-marker"]`).evaluateAll((els) => els.map((e) => [e.closest('[data-task-id]')?.getAttribute('data-task-id'), e.getAttribute('data-kind'), e.textContent?.trim()]));
    expect(await markers('[data-testid="grid-row"]')).toEqual([
      ['create', 'setup', '↗'],
      ['remove', 'teardown', '↘'],
    ]);
    await shot(page, 'setup-teardown-grid');
    await page.getByTestId('tab-graph').click();
    await expect.poll(() => page.getByTestId('graph-node').count()).toBe(3);
    expect(await markers('[data-testid="graph-node"]')).toEqual([
      ['create', 'setup', '↗'],
      ['remove', 'teardown', '↘'],
    ]);
    await shot(page, 'setup-teardown-graph');
    // The DAG list shows the reason too; unpausing clears it.
    await page.goto(server.link);
    await page.getByTestId(`dag-paused-reason-${ST}`).waitFor();
    expect((await api(server, 'PATCH', `/api/v2/dags/${ST}`, { is_paused: false })).json).toMatchObject({ is_paused: false, paused_reason: null });
  });
});
