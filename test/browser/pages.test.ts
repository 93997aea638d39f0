/**
 * The UI's pages against a real standalone server on a DAGs folder of this test's own: the DAG list's
 * filters (search, tags, paused/active, last run state, kept in the URL), a try's log (search with next/
 * previous, level filter, download of the whole log as a .log file), a failed task's error as an error,
 * the clear dialog without internal columns, the backfills page (dry run, create, progress) and dark mode
 * (the system's preference until picked, remembered). Screenshots of each step go to test/browser/screenshots/.
 */
import { readFileSync, rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject } from './harness.ts';

/** pages_flow, in a file whose name is not its id (the search looks in files too). */
const FLOW = `import { dag, task } from 'airless';

export default dag(
  { dagId: 'pages_flow', description: 'Calibrates the visibilities of a night', schedule: '@daily', startDate: '2026-01-01', tags: ['radio', 'calibration'] },
  () => {
    const chatty = task('chatty', (ctx) => {
      ctx.log.info('reading needle visibilities');
      ctx.log.warn('antenna 7 flagged by the needle check');
      ctx.log.info('gain solutions found');
      ctx.log.error('phase jump in spw 3 near the needle');
      return 'ok';
    });
    task('boom', () => {
      throw new Error('calibration table missing');
    }).after(chatty);
  },
);
`;
const OTHER = `import { dag, task } from 'airless';

export default dag({ dagId: 'pages_other', description: 'Images the cube', tags: ['radio', 'imaging'] }, () => {
  task('noop', () => 1);
});
`;

let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('pages');
const RUN = 'pages_run';

/** Polls `probe` until it gives a value. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const importErrors = await api(server, 'GET', '/api/v2/importErrors');
      throw new Error(`timed out waiting for ${what}; import errors: ${JSON.stringify(importErrors.json)}; server output:\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The DAG ids of the rows the list shows, in order. */
function shownDags(): Promise<string[]> {
  return page.locator('[data-testid^="dag-row-"]').evaluateAll((els) => els.map((e) => (e.getAttribute('data-testid') ?? '').replace('dag-row-', '')));
}

beforeAll(async () => {
  // A project of its own: its files are ES modules importing this checkout as 'airless'.
  const project = tempProject('airless-browser-pages-', { 'night_calibration.ts': FLOW, 'pages_other.ts': OTHER });
  tmp = project.dir;
  const dags = project.dags;
  server = await startStandalone({ dagsFolder: dags });
  browser = await launchBrowser();
  page = browser.page;
  await until('pages_flow loaded', async () => ((await api(server, 'GET', '/api/v2/dags/pages_flow')).status === 200 ? true : undefined));
  for (const id of ['pages_flow', 'pages_other']) expect((await api(server, 'PATCH', `/api/v2/dags/${id}`, { is_paused: false })).status).toBe(200);
  const triggered = await api(server, 'POST', '/api/v2/dags/pages_flow/dagRuns', { dag_run_id: RUN });
  expect(triggered.status, JSON.stringify(triggered.json)).toBe(200);
  await until('the run to fail', async () => ((await api(server, 'GET', `/api/v2/dags/pages_flow/dagRuns/${RUN}`)).json.state === 'failed' ? true : undefined));
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('pages', () => {
  it('filters the DAG list by text (id, description, file), tags, paused/active and last run state, in the URL', async () => {
    await expect.poll(shownDags).toEqual(['pages_flow', 'pages_other']);
    // Text: a description, a file name.
    await page.getByTestId('dag-search').fill('cube');
    await expect.poll(shownDags).toEqual(['pages_other']);
    expect(page.url()).toContain('q=cube');
    await page.getByTestId('dag-search').fill('night_calib');
    await expect.poll(shownDags).toEqual(['pages_flow']);
    await page.getByTestId('dag-search').fill('');
    await expect.poll(shownDags).toEqual(['pages_flow', 'pages_other']);

    // Tags: every tag picked must be carried.
    const chip = (t: string) => page.locator(`[data-testid="tag-chip"][data-tag="${t}"]`);
    expect(await page.getByTestId('tag-chip').evaluateAll((els) => els.map((e) => e.getAttribute('data-tag')))).toEqual(['calibration', 'imaging', 'radio']);
    await chip('radio').click();
    await expect.poll(shownDags).toEqual(['pages_flow', 'pages_other']);
    await chip('imaging').click();
    await expect.poll(shownDags).toEqual(['pages_other']);
    expect(await chip('imaging').getAttribute('aria-pressed')).toBe('true');
    await shot(page, 'dag-list-tags');
    await chip('radio').click();
    await chip('imaging').click();

    // Paused / active.
    await api(server, 'PATCH', '/api/v2/dags/pages_other', { is_paused: true });
    await page.reload();
    const paused = page.getByTestId('filter-paused');
    await paused.locator('[data-value="paused"]').click();
    await expect.poll(shownDags).toEqual(['pages_other']);
    await paused.locator('[data-value="active"]').click();
    await expect.poll(shownDags).toEqual(['pages_flow']);
    await paused.locator('[data-value="all"]').click();

    // The latest run's state.
    const last = page.getByTestId('filter-last-run');
    await last.locator('[data-value="failed"]').click();
    await expect.poll(shownDags).toEqual(['pages_flow']);
    await last.locator('[data-value="success"]').click();
    await expect.poll(shownDags).toEqual([]);
    await page.getByTestId('no-dag-matches').waitFor();
    await last.locator('[data-value="failed"]').click();

    // Shareable: the URL alone gives the same list, the inputs showing the filters.
    await page.getByTestId('dag-search').fill('visibilities');
    await expect.poll(shownDags).toEqual(['pages_flow']);
    const url = page.url();
    expect(url).toContain('last=failed');
    expect(url).toContain('q=visibilities');
    await page.goto(`${server.url}/`);
    await expect.poll(shownDags).toEqual(['pages_flow', 'pages_other']);
    await page.goto(url);
    await expect.poll(shownDags).toEqual(['pages_flow']);
    expect(await page.getByTestId('dag-search').inputValue()).toBe('visibilities');
    expect(await last.locator('[data-value="failed"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('dag-count').textContent()).toBe('1 of 2 DAGs');
    await shot(page, 'dag-list-filters');
    await page.getByTestId('clear-filters').click();
    await expect.poll(shownDags).toEqual(['pages_flow', 'pages_other']);
    await api(server, 'PATCH', '/api/v2/dags/pages_other', { is_paused: false });
  });

  it("searches a try's log (highlight, next/previous), filters it by level and downloads the whole log", async () => {
    await page.goto(`${server.url}/#/dags/pages_flow/runs/${RUN}/tasks/chatty/-1`);
    const log = page.getByTestId('ti-log');
    await log.getByText('phase jump in spw 3').waitFor();
    const count = page.getByTestId('log-search-count');
    const current = page.getByTestId('log-match-current');
    const lineOfCurrent = () => current.evaluate((m) => m.closest('.log-line')?.textContent ?? '');

    await page.getByTestId('log-search').fill('NEEDLE');
    await expect.poll(() => count.textContent()).toBe('1 of 3');
    expect(await log.locator('mark.log-match').count()).toBe(3);
    expect(await current.textContent()).toBe('needle');
    expect(await lineOfCurrent()).toContain('reading needle visibilities');
    await page.getByTestId('log-search-next').click();
    await expect.poll(() => count.textContent()).toBe('2 of 3');
    expect(await lineOfCurrent()).toContain('antenna 7 flagged');
    await page.getByTestId('log-search').press('Enter');
    await expect.poll(() => count.textContent()).toBe('3 of 3');
    expect(await lineOfCurrent()).toContain('phase jump');
    await page.getByTestId('log-search-next').click(); // wraps around
    await expect.poll(() => count.textContent()).toBe('1 of 3');
    await page.getByTestId('log-search-prev').click();
    await expect.poll(() => count.textContent()).toBe('3 of 3');
    await shot(page, 'log-search');

    // Level filter: the warning hidden, then the infos: the search counts what is shown.
    const level = (lv: string) => page.locator(`[data-testid="log-level"][data-level="${lv}"]`);
    const levels = () => log.locator('.log-line').evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-level')))].sort());
    expect(await levels()).toEqual(['error', 'info', 'warn']);
    await level('warn').click();
    expect(await level('warn').getAttribute('aria-pressed')).toBe('false');
    await expect.poll(levels).toEqual(['error', 'info']);
    await expect.poll(() => count.textContent()).toBe('1 of 2');
    await level('info').click();
    await expect.poll(levels).toEqual(['error']);
    expect(await log.locator('.log-line').allTextContents()).toEqual([expect.stringContaining('phase jump in spw 3 near the needle')]);
    await expect.poll(() => count.textContent()).toBe('1 of 1');
    await shot(page, 'log-level-filter');

    // The download is the whole log of the try, whatever is shown.
    const api1 = (await api(server, 'GET', `/api/v2/dags/pages_flow/dagRuns/${RUN}/taskInstances/chatty/logs/1`)).json.content as { timestamp: string; level: string; event: string }[];
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('log-download').click()]);
    expect(download.suggestedFilename()).toBe('pages_flow__pages_run__chatty__try-1.log');
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(api1.length);
    expect(lines).toEqual(api1.map((l) => `${l.timestamp} ${l.level.toUpperCase().padEnd(5)} ${l.event}`));
    expect(text).toContain('WARN  antenna 7 flagged by the needle check');
    expect(text).toContain('INFO  reading needle visibilities');
    expect(text).toContain('ERROR phase jump in spw 3 near the needle');
    await level('info').click();
    await level('warn').click();
  });

  it("shows a failed task's error in an error box, never as a note, and clears without internal details", async () => {
    await page.goto(`${server.url}/#/dags/pages_flow/runs/${RUN}/tasks/boom/-1`);
    await page.getByTestId('ti-details').and(page.locator('[data-state="failed"]')).waitFor();
    const error = page.getByTestId('ti-error');
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('ti-error-name').textContent()).toBe('Error');
    expect(await page.getByTestId('ti-error-message').textContent()).toContain('calibration table missing');
    expect(await page.getByTestId('ti-details').getByText('Note', { exact: true }).count()).toBe(0);

    await page.getByTestId('clear-button').click();
    await page.getByTestId('clear-preview').locator('[data-task-id="boom"]').waitFor();
    const dialog = (await page.getByTestId('clear-dialog').textContent()) ?? '';
    expect(dialog).toContain('1 task instance will be cleared');
    expect(dialog).not.toMatch(/redecide|rerun|mode/i);
    await shot(page, 'task-error-and-clear');
    await page.getByTestId('clear-dialog').getByRole('button', { name: 'Cancel' }).click();
  });

  it('dry-runs a backfill, creates it, and lists it with its progress', async () => {
    await page.goto(`${server.url}/#/dags/pages_flow`);
    await page.getByTestId('backfills-link').click();
    await page.getByTestId('no-backfills').waitFor();
    expect(await page.getByTestId('backfill-create-button').isDisabled()).toBe(true);
    await page.getByTestId('backfill-from').fill('2026-03-01T00:00');
    await page.getByTestId('backfill-to').fill('2026-03-03T00:00');
    await page.getByTestId('backfill-max-active-runs').fill('2');
    await page.getByTestId('backfill-dry-run-button').click();
    const dates = page.getByTestId('dry-run-date');
    await page.getByTestId('backfill-dry-run').waitFor();
    // The same values, from the API: the page shows what the API says.
    const [from, to] = await page.evaluate<[string, string]>("[new Date('2026-03-01T00:00').toISOString(), new Date('2026-03-03T00:00').toISOString()]");
    const expected = (await api(server, 'POST', '/api/v2/backfills/dry_run', { dag_id: 'pages_flow', from_date: from, to_date: to, max_active_runs: 2 })).json;
    expect(expected.total_entries).toBeGreaterThanOrEqual(2);
    expect(await dates.count()).toBe(expected.total_entries);
    expect(await dates.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))).toEqual(expected.backfills.map(() => 'create'));
    expect(await page.getByTestId('backfill-dry-run-summary').textContent()).toContain(`${expected.total_entries} runs to create`);
    expect((await api(server, 'GET', '/api/v2/backfills?dag_id=pages_flow')).json.total_entries).toBe(0);
    await shot(page, 'backfill-dry-run');

    // A changed value needs a new dry run before Create.
    await page.getByTestId('backfill-max-active-runs').fill('3');
    expect(await page.getByTestId('backfill-create-button').isDisabled()).toBe(true);
    await page.getByTestId('backfill-dry-run-button').click();
    await page.getByTestId('backfill-dry-run').waitFor();
    await page.getByTestId('backfill-create-button').click();
    await page.getByTestId('backfill-created').waitFor();
    const created = (await api(server, 'GET', '/api/v2/backfills?dag_id=pages_flow')).json.backfills;
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ max_active_runs: 3, counts: { created: expected.total_entries } });

    const row = page.locator(`[data-testid="backfill-row"][data-backfill-id="${created[0].id}"]`);
    await row.waitFor();
    // Every run of the backfill ends failed (its task boom fails): done = total, the states counted.
    await row.and(page.locator('[data-state="completed"]')).waitFor({ timeout: 60_000 });
    const n = expected.total_entries as number;
    await expect.poll(() => row.getAttribute('data-done'), { timeout: 30_000 }).toBe(String(n));
    expect(await row.getAttribute('data-total')).toBe(String(n));
    expect(await row.getByTestId('backfill-progress').textContent()).toBe(`${n} / ${n} runs`);
    expect(await row.locator('.state-count[data-state="failed"]').getAttribute('data-count')).toBe(String(n));
    await shot(page, 'backfill-list');
  });

  it("follows the system's colour scheme until one is picked in the top bar, and remembers it", async () => {
    const theme = () => page.evaluate('document.documentElement.dataset.theme');
    const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    await page.goto(`${server.url}/`);
    await page.evaluate("localStorage.removeItem('airless.theme')");
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    await page.getByTestId('dag-list').waitFor();
    expect(await theme()).toBe('light');
    expect(await background()).toBe('rgb(255, 255, 255)');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(theme).toBe('dark');
    expect(await background()).toBe('rgb(13, 17, 23)');
    expect(await page.getByTestId('theme-toggle').getAttribute('aria-pressed')).toBe('true');
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(theme).toBe('light');

    // Picked: dark, whatever the system says, after a reload too.
    await page.getByTestId('theme-toggle').click();
    await expect.poll(theme).toBe('dark');
    expect(await page.evaluate("localStorage.getItem('airless.theme')")).toBe('dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    await page.getByTestId('dag-list').waitFor();
    expect(await theme()).toBe('dark');
    expect(await background()).toBe('rgb(13, 17, 23)');
    await shot(page, 'dark-dag-list');
    await page.goto(`${server.url}/#/dags/pages_flow/runs/${RUN}/tasks/boom/-1`);
    await page.getByTestId('ti-error').waitFor();
    await page.getByTestId('ti-log').getByText('calibration table missing').waitFor();
    await page.locator('[data-testid="grid-cell"][data-task-id="boom"][data-state="failed"]').first().waitFor();
    await shot(page, 'dark-task-error');
    await page.goto(`${server.url}/#/dags/pages_flow/backfills`);
    await page.getByTestId('backfill-row').first().waitFor();
    await shot(page, 'dark-backfills');
    await page.getByTestId('theme-toggle').click();
    await expect.poll(theme).toBe('light');
    expect(await page.evaluate("localStorage.getItem('airless.theme')")).toBe('light');
  });
});
