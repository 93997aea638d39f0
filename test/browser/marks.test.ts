/**
 * Marking from the UI against a real standalone server: a running run stopped from its run page (the
 * running try's signal fires, its instance fails, the rest is skipped), a note written on the run, and a
 * failed task instance marked success from its panel after a dry-run preview (its downstream then runs).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject, until } from './harness.ts';

// The try says it listens for the abort with a file in the server's home (its log shows once it ends).
const STOPPABLE = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dag, task } from 'airless';

export default dag({ dagId: 'marks_stop' }, () => {
  const long = task('long', (ctx) => new Promise((_, reject) => {
    ctx.signal.addEventListener('abort', () => {
      ctx.log.info('aborted: ' + ctx.signal.reason.message);
      reject(ctx.signal.reason);
    });
    writeFileSync(join(process.env.AIRLESS_HOME ?? '.', 'started-' + ctx.runId), '');
  }));
  task('after', () => 'after').after(long);
});
`;
const CHAIN = `import { dag, task } from 'airless';

export default dag({ dagId: 'marks_chain' }, () => {
  const a = task('a', () => {
    throw new Error('input missing');
  });
  task('b', () => 'b').after(a);
});
`;

let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('marks');

const tiState = async (dagId: string, runId: string, taskId: string) => (await api(server, 'GET', `/api/v2/dags/${dagId}/dagRuns/${runId}/taskInstances/${taskId}`)).json.state as string | null;

beforeAll(async () => {
  const project = tempProject('airless-browser-marks-', { 'marks_stop.ts': STOPPABLE, 'marks_chain.ts': CHAIN });
  tmp = project.dir;
  server = await startStandalone({ dagsFolder: project.dags });
  browser = await launchBrowser();
  page = browser.page;
  await until(server, 'the DAGs loaded', async () => ((await api(server, 'GET', '/api/v2/dags/marks_chain')).status === 200 && (await api(server, 'GET', '/api/v2/dags/marks_stop')).status === 200 ? true : undefined));
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('marking from the UI', () => {
  it('stops a running run from its page after confirming, and writes a note on it', async () => {
    expect((await api(server, 'POST', '/api/v2/dags/marks_stop/dagRuns', { dag_run_id: 'stop_me' })).status).toBe(200);
    await until(server, 'long running', async () => ((await tiState('marks_stop', 'stop_me', 'long')) === 'running' ? true : undefined));
    // Running is set before the try's worker runs its code: stopped before then, there is no code to abort.
    await until(server, 'long listening', async () => (existsSync(join(server.home, 'started-stop_me')) ? true : undefined));
    await page.goto(`${server.url}/#/dags/marks_stop/runs/stop_me`);
    await page.getByTestId('run-details').and(page.locator('[data-state="running"]')).waitFor();
    await page.getByTestId('run-mark-failed').click();
    const dialog = page.getByTestId('run-mark-dialog');
    expect(await dialog.textContent()).toContain('its running tries are aborted and fail');
    await shot(page, 'stop-run-confirm');
    await page.getByTestId('run-mark-confirm').click();
    await page.getByTestId('run-details').and(page.locator('[data-state="failed"]')).waitFor();
    expect(await tiState('marks_stop', 'stop_me', 'long')).toBe('failed');
    expect(await tiState('marks_stop', 'stop_me', 'after')).toBe('skipped');
    await until(server, 'the try saw its abort', async () => {
      const log = (await api(server, 'GET', '/api/v2/dags/marks_stop/dagRuns/stop_me/taskInstances/long/logs/1')).json as { content: { event: string }[] };
      return log.content.some((l) => l.event.includes('aborted: the run was marked failed')) ? true : undefined;
    });

    await page.getByTestId('run-note').getByTestId('note-edit').click();
    await page.getByTestId('run-note').getByTestId('note-input').fill('stopped: wrong calibration table');
    await page.getByTestId('run-note').getByTestId('note-save').click();
    await page.getByTestId('run-note').getByTestId('note-text').getByText('stopped: wrong calibration table').waitFor();
    expect((await api(server, 'GET', '/api/v2/dags/marks_stop/dagRuns/stop_me')).json.note).toBe('stopped: wrong calibration table');
  });

  it('marks a failed task instance success from its panel, after a dry-run preview listing its downstream', async () => {
    expect((await api(server, 'POST', '/api/v2/dags/marks_chain/dagRuns', { dag_run_id: 'chain_1' })).status).toBe(200);
    await until(server, 'the run failed', async () => ((await api(server, 'GET', '/api/v2/dags/marks_chain/dagRuns/chain_1')).json.state === 'failed' ? true : undefined));
    await page.goto(`${server.url}/#/dags/marks_chain/runs/chain_1/tasks/a/-1`);
    await page.getByTestId('ti-details').and(page.locator('[data-state="failed"]')).waitFor();
    await page.getByTestId('ti-mark-button').click();
    await page.getByTestId('ti-mark-preview').locator('[data-task-id="a"]').waitFor();
    await page.getByTestId('ti-mark-include_downstream').check();
    await page.getByTestId('ti-mark-preview').locator('[data-task-id="b"]').waitFor();
    expect(await page.getByTestId('ti-mark-dialog').textContent()).toContain('2 task instances will be marked success');
    // The preview changed nothing.
    expect(await tiState('marks_chain', 'chain_1', 'a')).toBe('failed');
    await shot(page, 'mark-ti-preview');
    await page.getByTestId('ti-mark-confirm').click();
    await page.getByTestId('ti-details').and(page.locator('[data-state="success"]')).waitFor();
    expect(await tiState('marks_chain', 'chain_1', 'b')).toBe('success');

    await page.getByTestId('ti-details').getByTestId('note-edit').click();
    await page.getByTestId('ti-details').getByTestId('note-input').fill('input restored by hand');
    await page.getByTestId('ti-details').getByTestId('note-save').click();
    await page.getByTestId('ti-details').getByTestId('note-text').getByText('input restored by hand').waitFor();
    expect((await api(server, 'GET', '/api/v2/dags/marks_chain/dagRuns/chain_1/taskInstances/a')).json.note).toBe('input restored by hand');
  });
});
