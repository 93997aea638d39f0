/**
 * Human-in-the-loop requests answered from the UI against a real standalone server over a DAGs folder of
 * this test's own: the Requests page lists what waits (its count beside the link), an approval is
 * answered with its button there and its run goes on; a form is answered from its task instance's page,
 * its fields rendered from the request's params (a value the field's schema refuses is shown under it),
 * and the task after it gets the values; the answered requests are listed with who answered.
 */
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject, until } from './harness.ts';

const SHIP = `import { approval, dag, task } from 'airless';

export default dag({ dagId: 'hitl_ship' }, () => {
  const approve = approval('approve', { subject: 'Ship the cube of {{ run_id }}?' });
  task('ship', () => 'shipped').after(approve);
});
`;
const IMAGING = `import { dag, hitlForm, task } from 'airless';

export default dag({ dagId: 'hitl_imaging' }, () => {
  const settings = hitlForm('settings', {
    subject: 'Imaging settings',
    params: { channels: { type: 'integer', minimum: 1, maximum: 4096, default: 64, description: 'Channels of the cube' } },
  });
  task('image', (_ctx, answer: { paramsInput: Record<string, unknown> }) => \`imaging \${String(answer.paramsInput['channels'])} channels\`)(settings);
});
`;

let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('hitl');

const tiState = async (dagId: string, runId: string, taskId: string) => (await api(server, 'GET', `/api/v2/dags/${dagId}/dagRuns/${runId}/taskInstances/${taskId}`)).json.state as string | null;
const pendingCount = async () => (await api(server, 'GET', '/api/v2/dags/~/dagRuns/~/hitlDetails?state=pending')).json.total_entries as number;

beforeAll(async () => {
  const project = tempProject('airless-browser-hitl-', { 'hitl_ship.ts': SHIP, 'hitl_imaging.ts': IMAGING });
  tmp = project.dir;
  server = await startStandalone({ dagsFolder: project.dags });
  browser = await launchBrowser();
  page = browser.page;
  await until(server, 'the DAGs loaded', async () => ((await api(server, 'GET', '/api/v2/dags/hitl_ship')).status === 200 && (await api(server, 'GET', '/api/v2/dags/hitl_imaging')).status === 200 ? true : undefined)).catch(
    async (e: unknown) => {
      throw new Error(`${String(e)}\nimport errors: ${JSON.stringify((await api(server, 'GET', '/api/v2/importErrors')).json)}`);
    },
  );
  expect((await api(server, 'POST', '/api/v2/dags/hitl_ship/dagRuns', { dag_run_id: 'ship_1' })).status).toBe(200);
  expect((await api(server, 'POST', '/api/v2/dags/hitl_imaging/dagRuns', { dag_run_id: 'imaging_1' })).status).toBe(200);
  await until(server, 'both requests pending', async () => ((await pendingCount()) === 2 ? true : undefined));
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('answering human-in-the-loop requests from the UI', () => {
  it('the Requests page lists what waits, with its count in the top bar; Approve answers and the run goes on', async () => {
    await page.getByTestId('nav-requests-count').filter({ hasText: '2' }).waitFor();
    await page.getByTestId('nav-requests').click();
    const request = page.locator('[data-testid="hitl-request"][data-dag-id="hitl_ship"]');
    await request.waitFor();
    expect(await request.locator('.hitl-subject').textContent()).toBe('Ship the cube of ship_1?');
    expect(await request.getByTestId('hitl-option').evaluateAll((bs) => bs.map((b) => b.textContent))).toEqual(['Approve', 'Reject']);
    await shot(page, 'requests-pending');
    await request.locator('[data-testid="hitl-option"][data-option="Approve"]').click();
    await until(server, 'ship to succeed', async () => ((await tiState('hitl_ship', 'ship_1', 'ship')) === 'success' ? true : undefined));
    expect(await tiState('hitl_ship', 'ship_1', 'approve')).toBe('success');
    // Gone from the pending list, and the count with it.
    await page.locator('[data-testid="hitl-request"][data-dag-id="hitl_ship"]').waitFor({ state: 'detached' });
    await page.getByTestId('nav-requests-count').filter({ hasText: '1' }).waitFor();
  });

  it('a form on its task instance\'s page: its fields from the request\'s params, a refused value under its field, then the values reach the next task', async () => {
    await page.goto(`${server.url}/#/dags/hitl_imaging/runs/imaging_1/tasks/settings/-1`);
    const form = page.getByTestId('ti-details').getByTestId('hitl-form');
    const channels = form.locator('#root_channels');
    await channels.waitFor();
    // The field's default, as the trigger form fills a param's.
    expect(await channels.inputValue()).toBe('64');
    await channels.fill('0');
    await form.getByText('must be >= 1').waitFor();
    await shot(page, 'form-invalid');
    await channels.fill('128');
    await form.locator('[data-testid="hitl-option"][data-option="OK"]').click();
    await until(server, 'image to succeed', async () => ((await tiState('hitl_imaging', 'imaging_1', 'image')) === 'success' ? true : undefined));
    const xcom = await api(server, 'GET', '/api/v2/dags/hitl_imaging/dagRuns/imaging_1/taskInstances/image/xcomEntries/return_value');
    expect(xcom.json.value).toBe('imaging 128 channels');
    // The page shows the answer in place of the form.
    await page.getByTestId('ti-details').getByTestId('hitl-answered').waitFor();
    expect(await page.getByTestId('ti-details').getByTestId('hitl-params-input').textContent()).toContain('128');
  });

  it('the answered requests are listed with their answers, and nothing waits any more', async () => {
    await page.goto(`${server.url}/#/requests`);
    await page.getByTestId('hitl-none').waitFor();
    expect(await pendingCount()).toBe(0);
    await page.getByTestId('hitl-tab-responded').click();
    const answered = page.locator('[data-testid="hitl-request"][data-answered="true"]');
    await answered.nth(1).waitFor();
    expect((await page.getByTestId('hitl-chosen').allTextContents()).sort()).toEqual(['Approve', 'OK']);
    await shot(page, 'requests-answered');
    expect(await page.getByTestId('nav-requests-count').count()).toBe(0);
  });
});
