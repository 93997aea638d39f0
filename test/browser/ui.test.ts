/**
 * The web UI in Debian's Chromium against a real standalone server on the repository's dags/: trigger
 * example_workflow from the form with a param changed and watch it go green; a bad param refused by the
 * form and by the API; a failing run, its task's log, clear and rerun; graph view, XCom, pipeline context;
 * a wrong token back to the prompt. Screenshots of each step go to test/browser/screenshots/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone } from './harness.ts';

/** Long enough for a run of example_workflow to end (a few seconds at failure_rate 1: retries back off). */
const RUN_ENDS = 60_000;

let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('ui');

beforeAll(async () => {
  server = await startStandalone();
  browser = await launchBrowser();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The id of the run whose details panel is shown. */
async function shownRunId(): Promise<string> {
  const id = await page.getByTestId('run-details').getAttribute('data-run-id');
  expect(id).toBeTruthy();
  return id!;
}

function gridRun(runId: string) {
  return page.locator(`[data-testid="grid-run"][data-run-id="${runId}"]`);
}

function gridCell(runId: string, taskId: string) {
  return page.locator(`[data-testid="grid-cell"][data-run-id="${runId}"][data-task-id="${taskId}"]`);
}

async function openTriggerForm(): Promise<void> {
  await page.getByTestId('trigger-button').click();
  await page.locator('#root_nchan').waitFor();
}

describe('web UI on a standalone server', () => {
  let greenRunId = '';

  it('takes the token from the link, strips it from the URL and lists the DAGs', async () => {
    await page.goto(server.link);
    await page.getByTestId('dag-list').waitFor();
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate("localStorage.getItem('airless.apiToken')")).toBe(server.token);
    await page.getByTestId('dag-row-example_workflow').waitFor();
    await expect.poll(() => page.getByTestId('import-error-banner').count()).toBe(0);
    await shot(page, 'dag-list');
  });

  it('triggers example_workflow from the form with nchan changed, shows that conf, and the run goes green in the grid', async () => {
    await page.getByTestId('dag-row-example_workflow').getByRole('link', { name: 'example_workflow' }).click();
    await page.getByTestId('grid').waitFor();
    await openTriggerForm();
    expect(await page.locator('#root_nchan').inputValue()).toBe('16'); // the param's default
    await page.locator('#root_nchan').fill('3');
    await shot(page, 'trigger-form');
    await page.getByTestId('trigger-submit').click();
    await page.getByTestId('run-details').waitFor();
    greenRunId = await shownRunId();
    expect(JSON.parse((await page.getByTestId('run-conf').textContent()) ?? '')).toEqual({ simulate_failures: false, failure_rate: 0.1, nchan: 3 });
    await gridRun(greenRunId).and(page.locator('[data-state="success"]')).waitFor({ timeout: RUN_ENDS });
    const tasks = ['plan_stages', 'run_import_prep', 'run_calibration', 'run_imaging', 'pipeline_summary'];
    await expect.poll(() => Promise.all(tasks.map((t) => gridCell(greenRunId, t).getAttribute('data-state')))).toEqual(tasks.map(() => 'success'));
    expect((await api(server, 'GET', `/api/v2/dags/example_workflow/dagRuns/${encodeURIComponent(greenRunId)}`)).json.conf).toMatchObject({ nchan: 3 });
    await shot(page, 'run-green');
  });

  it('shows the pipeline context of the run: every stage and its saved data', async () => {
    await gridRun(greenRunId).click();
    const stages = page.getByTestId('pipeline-stage');
    // Polled on the names themselves: the stages may render over more than one pass.
    await expect.poll(() => stages.evaluateAll((els) => els.map((e) => e.getAttribute('data-stage')))).toEqual(expect.arrayContaining(['import_prep', 'calibration', 'imaging']));
    await shot(page, 'pipeline-context');
  });

  it('shows a task instance with its tries, log and XCom', async () => {
    await gridCell(greenRunId, 'plan_stages').click();
    const details = page.getByTestId('ti-details');
    await details.and(page.locator('[data-state="success"]')).waitFor();
    await page.getByTestId('ti-log').getByText('starting try 1').waitFor();
    const returnValue = page.locator('[data-testid="xcom-entry"][data-key="return_value"]');
    await returnValue.waitFor();
    expect(JSON.parse((await returnValue.locator('pre').textContent()) ?? '')).toEqual({ simulate_failures: false, failure_rate: 0.1 });
    await shot(page, 'task-instance-xcom');
  });

  it("links a triggerDag task's instance to the run it triggered, in that DAG", async () => {
    await page.goto(`${server.url}/#/dags/example_workflow/runs/${encodeURIComponent(greenRunId)}/tasks/run_import_prep/-1`);
    await page.getByTestId('ti-details').and(page.locator('[data-state="success"]')).waitFor();
    const link = page.getByTestId('ti-triggered-run');
    expect(await link.getAttribute('data-dag-id')).toBe('stage_import_prep');
    const ti = (await api(server, 'GET', `/api/v2/dags/example_workflow/dagRuns/${encodeURIComponent(greenRunId)}/taskInstances/run_import_prep`)).json;
    expect(ti.external_id).toEqual(expect.any(String));
    expect(await link.getAttribute('href')).toBe(`#/dags/stage_import_prep/runs/${encodeURIComponent(ti.external_id)}`);
    await shot(page, 'triggered-run-link');
    await link.click();
    await page.locator(`[data-testid="run-details"][data-run-id="${ti.external_id}"]`).waitFor();
    expect(page.url()).toContain('#/dags/stage_import_prep/runs/');
    await page.goto(`${server.url}/#/dags/example_workflow/runs/${encodeURIComponent(greenRunId)}`);
    await page.getByTestId('run-details').waitFor();
  });

  it('shows a mapped task with its count of map indexes, expanding to each index', async () => {
    // stage_imaging triggered solver with nchan 3: execute_single_solver is mapped over 3 channels.
    await page.goto(`${server.url}/#/dags/solver`);
    const expand = page.locator('[data-testid="grid-expand"][data-task-id="execute_single_solver"]');
    await expand.getByText('[3]').waitFor();
    await expand.click();
    const rows = page.locator('[data-testid="grid-row"][data-task-id="execute_single_solver"][data-map-index]');
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-map-index')))).toEqual(['0', '1', '2']);
    const cell = page.locator('[data-testid="grid-cell"][data-task-id="execute_single_solver"][data-map-index="2"]');
    expect(await cell.getAttribute('data-state')).toBe('success');
    await shot(page, 'mapped-expanded');
    await cell.click();
    await page.locator('[data-testid="ti-details"][data-map-index="2"][data-state="success"]').waitFor();
    await page.goto(`${server.url}/#/dags/example_workflow/runs/${encodeURIComponent(greenRunId)}`);
    await page.getByTestId('run-details').waitFor();
  });

  it('draws the graph view coloured by the run', async () => {
    await page.getByTestId('tab-graph').click();
    const nodes = page.getByTestId('graph-node');
    await expect.poll(() => nodes.count()).toBe(5);
    await expect.poll(() => nodes.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(Array(5).fill('success'));
    await shot(page, 'graph');
    await page.getByTestId('tab-grid').click();
  });

  it('refuses a non-conforming param inline, and the API refuses the same conf with a 400 naming it', async () => {
    const before = (await api(server, 'GET', '/api/v2/dags/example_workflow/dagRuns')).json.total_entries as number;
    await openTriggerForm();
    await page.locator('#root_nchan').fill('-1');
    const nchanGroup = page.locator('.form-group', { has: page.locator('#root_nchan') });
    await nchanGroup.locator('.error-detail').getByText('>= 1').waitFor();
    await page.getByTestId('trigger-submit').click();
    await shot(page, 'bad-param-refused');
    expect(await page.getByTestId('run-details').count()).toBe(0);
    expect((await api(server, 'GET', '/api/v2/dags/example_workflow/dagRuns')).json.total_entries).toBe(before);

    const refused = await api(server, 'POST', '/api/v2/dags/example_workflow/dagRuns', { conf: { nchan: -1 } });
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toContain('nchan');
    const asText = await api(server, 'POST', '/api/v2/dags/example_workflow/dagRuns', { conf: { nchan: 'many' } });
    expect(asText.status).toBe(400);
    expect(asText.json.detail).toContain('nchan');
  });

  it("shows the API's refusal under the field it names: a conf the server refuses, a run id that exists", async () => {
    // The form checks the same schema as the server, so to see the server's answer in the form, change the
    // conf on its way out (the real server still answers).
    await page.route('**/api/v2/dags/example_workflow/dagRuns', async (route) => {
      const body = route.request().postDataJSON() as { conf: Record<string, unknown> };
      await route.continue({ postData: JSON.stringify({ ...body, conf: { ...body.conf, nchan: 0 } }) });
    });
    await page.locator('#root_nchan').fill('5');
    await page.getByTestId('trigger-submit').click();
    const nchanGroup = page.locator('.form-group', { has: page.locator('#root_nchan') });
    await nchanGroup.locator('.error-detail').getByText("param 'nchan' = 0 is invalid").waitFor();
    await page.unroute('**/api/v2/dags/example_workflow/dagRuns');
    await shot(page, 'api-400-under-field');

    await page.getByTestId('trigger-run-id').fill(greenRunId);
    await page.getByTestId('trigger-submit').click();
    await page.getByTestId('trigger-run-id-error').getByText('already exists').waitFor();
    await shot(page, 'run-id-exists');
    await page.getByTestId('trigger-run-id').fill('');
  });

  it('triggers a run with failure_rate 1, which fails; the failed task shows the error in its log', async () => {
    await page.locator('#root_nchan').fill('2');
    await page.locator('#root_simulate_failures').check();
    await page.locator('#root_failure_rate').fill('1');
    await page.getByTestId('trigger-submit').click();
    await page.getByTestId('run-details').waitFor();
    const failedRunId = await shownRunId();
    expect(JSON.parse((await page.getByTestId('run-conf').textContent()) ?? '')).toEqual({ simulate_failures: true, failure_rate: 1, nchan: 2 });
    await gridRun(failedRunId).and(page.locator('[data-state="failed"]')).waitFor({ timeout: RUN_ENDS });
    await expect.poll(() => gridCell(failedRunId, 'run_import_prep').getAttribute('data-state')).toBe('failed');
    await expect.poll(() => gridCell(failedRunId, 'run_calibration').getAttribute('data-state')).toBe('upstream_failed');
    await shot(page, 'run-failed');

    await gridCell(failedRunId, 'run_import_prep').click();
    await page.getByTestId('ti-details').and(page.locator('[data-state="failed"]')).waitFor();
    await page.getByTestId('ti-log').getByText('TriggeredRunFailedError').waitFor();
    // The instance's error, shown as an error: its name apart from its message.
    const tiError = page.getByTestId('ti-error');
    expect(await tiError.getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('ti-error-name').textContent()).toBe('TriggeredRunFailedError');
    expect(await page.getByTestId('ti-error-message').textContent()).toMatch(/^triggered run \S+ of 'stage_import_prep' ended failed/);
    expect(await page.getByTestId('ti-details').getByText('Note', { exact: true }).count()).toBe(0);
    await shot(page, 'failed-task-log');

    // The stage run it triggered failed on its own task, whose log has the simulated error.
    await page.goto(`${server.url}/#/dags/stage_import_prep`);
    await page.locator('[data-testid="grid-cell"][data-task-id="import_ms"][data-state="failed"]').first().click();
    await page.getByTestId('ti-details').and(page.locator('[data-try-number="3"]')).waitFor();
    await page.getByTestId('ti-log').getByText('simulated failure in import_ms').waitFor();
    expect(await page.getByTestId('ti-error-name').textContent()).toBe('Error');
    expect(await page.getByTestId('ti-error-message').textContent()).toMatch(/^simulated failure in import_ms \(try 3 of 3/);
    // Its traceback: the frames of the DAG's own code, at their TypeScript lines.
    expect(await page.getByTestId('ti-error-stack').textContent()).toMatch(/Traceback[\s\S]*dags\/_pipeline_sim\.ts:\d+:\d+/);
    await page.locator('[data-testid="ti-try"][data-try-number="1"]').click();
    await page.getByTestId('ti-log').getByText('(try 1 of 3').waitFor();
    // An earlier try's error, with the log of that try: from the instance's history.
    expect(await page.getByTestId('try-error-name').textContent()).toBe('Error');
    expect(await page.getByTestId('try-error-message').textContent()).toMatch(/^simulated failure in import_ms \(try 1 of 3/);
    expect(await page.locator('[data-testid="ti-try"][data-try-number="1"]').getAttribute('title')).toMatch(/\nError: simulated failure in import_ms \(try 1 of 3/);
    await shot(page, 'stage-task-log');

    // Clear the failed task of example_workflow (with its downstream): it runs again, as try 2.
    await page.goto(`${server.url}/#/dags/example_workflow/runs/${encodeURIComponent(failedRunId)}/tasks/run_import_prep/-1`);
    await page.getByTestId('ti-details').and(page.locator('[data-try-number="1"]')).waitFor();
    await page.getByTestId('clear-button').click();
    await page.getByTestId('clear-downstream').check();
    const preview = page.getByTestId('clear-preview');
    await preview.locator('[data-task-id="run_import_prep"]').waitFor();
    await preview.locator('[data-task-id="pipeline_summary"]').waitFor();
    await shot(page, 'clear-dry-run');
    await page.getByTestId('clear-confirm').click();
    await page.getByTestId('ti-details').and(page.locator('[data-try-number="2"]')).waitFor({ timeout: RUN_ENDS });
    await page.locator('[data-testid="ti-try"][data-try-number="2"][aria-selected="true"]').waitFor();
    // The try before the clear keeps how it ended.
    await page.locator('[data-testid="ti-try"][data-try-number="1"][data-state="failed"]').waitFor();
    // Same conf, so the rerun fails again: on its second try this time.
    await page.getByTestId('ti-details').and(page.locator('[data-state="failed"][data-try-number="2"]')).waitFor({ timeout: RUN_ENDS });
    await gridRun(failedRunId).and(page.locator('[data-state="failed"]')).waitFor({ timeout: RUN_ENDS });
    await page.getByTestId('ti-log').getByText('starting try 2 of 2').waitFor();
    await shot(page, 'cleared-rerun');
  });

  it('pauses and unpauses a DAG from the list', async () => {
    await page.getByTestId('nav-dags').click();
    const toggle = page.getByTestId('pause-toggle-example_workflow');
    await toggle.waitFor();
    const wasActive = await toggle.isChecked();
    await toggle.click({ force: true });
    await expect.poll(async () => (await api(server, 'GET', '/api/v2/dags/example_workflow')).json.is_paused).toBe(wasActive);
    await expect.poll(() => toggle.isChecked()).toBe(!wasActive);
    await toggle.click({ force: true });
    await expect.poll(async () => (await api(server, 'GET', '/api/v2/dags/example_workflow')).json.is_paused).toBe(!wasActive);
    const squares = page.getByTestId('last-runs-example_workflow').locator('[data-state]');
    await expect.poll(() => squares.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['success', 'failed']);
    await shot(page, 'dag-list-runs');
  });

  it('goes back to the token prompt on a 401, and in again with the right token', async () => {
    await page.evaluate("localStorage.setItem('airless.apiToken', 'wrong-token')");
    await page.reload();
    await page.getByTestId('token-prompt').waitFor();
    await shot(page, 'token-prompt');
    await page.getByTestId('token-input').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('dag-list').waitFor();
  });
});
