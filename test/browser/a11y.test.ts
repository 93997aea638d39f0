/**
 * Accessibility of every page, in light and in dark mode: axe-core run over the DAG list, a DAG's grid,
 * graph, versions and code, a run's details, a task instance with its error and log, the trigger form,
 * the import errors, the backfills, the assets (list, details with events, graph, an asset-triggered run, a DAG
 * scheduled on assets), the human-in-the-loop requests and a task's answer form, and the token prompt, asserting no violation of impact serious or
 * critical (contrast, names of buttons and inputs, roles, labels...). A real standalone server on a
 * DAGs folder of this test's own: a DAG with params, a schedule, a failing task and a log; a broken file;
 * a producer and a consumer of assets.
 */
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetId } from '../../lib/model/asset.ts';
import { describeViolations, seriousViolations } from './a11y.ts';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject, until } from './harness.ts';

const FLOW = `import { dag, task } from 'airless';

export default dag(
  {
    dagId: 'a11y_flow',
    description: 'Calibrates a night of visibilities',
    schedule: '@daily',
    startDate: '2026-01-01',
    tags: ['radio', 'calibration'],
    params: { nchan: { type: 'integer', minimum: 1, default: 4, description: 'Channels of the cube' }, flag: { type: 'boolean', default: false } },
  },
  () => {
    const chatty = task('chatty', (ctx) => {
      ctx.log.info('reading visibilities');
      ctx.log.warn('antenna 7 flagged');
      ctx.log.error('phase jump in spw 3');
      return { channels: 4 };
    });
    task('boom', () => {
      throw new Error('calibration table missing');
    }).after(chatty);
  },
);
`;
const BROKEN = `import { dag, task } from 'airless';

export default dag({ dagId: 'a11y_broken' }, () => {
  task('a', () => 1).after('b');
  task('b', () => 1).after('a');
});
`;

const ASSETS = `import { asset, dag, task } from 'airless';

const raw = asset('s3://a11y-lake/raw.csv', { name: 'raw', group: 'lake' });
const approved = asset('s3://a11y-lake/approved');

export const producer = dag({ dagId: 'a11y_producer' }, () => {
  task('extract', () => 1, { outlets: [raw] });
});

export const consumer = dag({ dagId: 'a11y_consumer', schedule: raw.and(approved) }, () => {
  task('load', () => 1);
});
`;
const RAW_ASSET = 's3://a11y-lake/raw.csv';
const HITL = `import { approval, dag, hitlChoice, hitlForm } from 'airless';

export default dag({ dagId: 'a11y_hitl' }, () => {
  approval('sign_off', { subject: 'Sign off the calibration?', body: 'Phases are flat across the band.' });
  hitlForm('settings', { subject: 'Imaging settings', params: { channels: { type: 'integer', minimum: 1, default: 64, description: 'Channels of the cube' }, weighting: { type: 'string', enum: ['natural', 'uniform', 'briggs'], default: 'briggs' } } });
  hitlChoice('bands', { subject: 'Which bands?', options: ['L', 'S', 'C'], multiple: true });
});
`;

const RUN = 'a11y_run';
let assetRun = '';
let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
let version = '';
const shot = screenshots('a11y');

beforeAll(async () => {
  // A project of its own: its files are ES modules importing this checkout as 'airless'.
  const project = tempProject('airless-browser-a11y-', { 'a11y_flow.ts': FLOW, 'a11y_broken.ts': BROKEN, 'a11y_assets.ts': ASSETS, 'a11y_hitl.ts': HITL });
  tmp = project.dir;
  const dags = project.dags;
  server = await startStandalone({ dagsFolder: dags });
  browser = await launchBrowser();
  page = browser.page;
  await until(server, 'a11y_flow loaded', async () => ((await api(server, 'GET', '/api/v2/dags/a11y_flow')).status === 200 ? true : undefined));
  const triggered = await api(server, 'POST', '/api/v2/dags/a11y_flow/dagRuns', { dag_run_id: RUN });
  expect(triggered.status, JSON.stringify(triggered.json)).toBe(200);
  await until(server, 'the run to fail', async () => ((await api(server, 'GET', `/api/v2/dags/a11y_flow/dagRuns/${RUN}`)).json.state === 'failed' ? true : undefined));
  version = (await api(server, 'GET', '/api/v2/dags/a11y_flow')).json.dag_version as string;
  // Human-in-the-loop requests waiting for an answer: an approval, a form and a multiple choice.
  await until(server, 'a11y_hitl loaded', async () => ((await api(server, 'GET', '/api/v2/dags/a11y_hitl')).status === 200 ? true : undefined));
  expect((await api(server, 'POST', '/api/v2/dags/a11y_hitl/dagRuns', { dag_run_id: RUN })).status).toBe(200);
  await until(server, 'the three requests pending', async () => ((await api(server, 'GET', `/api/v2/dags/a11y_hitl/dagRuns/${RUN}/hitlDetails?state=pending`)).json.total_entries === 3 ? true : undefined));
  const from = '2026-03-01T00:00:00Z';
  expect((await api(server, 'POST', '/api/v2/backfills', { dag_id: 'a11y_flow', from_date: from, to_date: '2026-03-02T00:00:00Z' })).status).toBe(200);
  await until(server, 'a11y_consumer loaded', async () => ((await api(server, 'GET', '/api/v2/dags/a11y_consumer')).status === 200 ? true : undefined));
  expect((await api(server, 'POST', '/api/v2/assets/events', { uri: 's3://a11y-lake/approved', extra: { by: 'qa' } })).status).toBe(201);
  const event = await api(server, 'POST', '/api/v2/assets/events', { uri: RAW_ASSET, extra: { rows: 3 } });
  expect(event.status, JSON.stringify(event.json)).toBe(201);
  assetRun = event.json.created_dagruns[0].run_id as string;
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Waits for `drawn`, with the pointer moved to the page's corner (over nothing). */
async function away(p: Page, drawn: Promise<void>): Promise<void> {
  await p.mouse.move(0, 0);
  await drawn;
}

/** Each page: where it is, and what shows that it is fully drawn. */
const PAGES: { name: string; route: () => string; ready: (p: Page) => Promise<void> }[] = [
  { name: 'DAG list', route: () => '/', ready: (p) => p.getByTestId('last-runs-a11y_flow').locator('[data-state="failed"]').first().waitFor() },
  { name: 'DAG grid', route: () => '/dags/a11y_flow', ready: (p) => p.locator('[data-testid="grid-cell"][data-task-id="boom"]').first().waitFor() },
  { name: 'DAG graph', route: () => '/dags/a11y_flow/graph', ready: (p) => p.getByTestId('graph-node').first().waitFor() },
  { name: 'DAG versions', route: () => '/dags/a11y_flow/versions', ready: (p) => p.getByTestId('version-row').first().waitFor() },
  { name: 'DAG code', route: () => `/dags/a11y_flow/versions/${encodeURIComponent(version)}`, ready: (p) => p.getByTestId('source-view').waitFor() },
  { name: 'run details', route: () => `/dags/a11y_flow/runs/${RUN}`, ready: (p) => p.getByTestId('run-details').waitFor() },
  {
    name: 'task instance with its error and log',
    route: () => `/dags/a11y_flow/runs/${RUN}/tasks/boom/-1`,
    ready: async (p) => {
      await p.getByTestId('ti-error').waitFor();
      await p.getByTestId('ti-log').locator('.log-line').first().waitFor();
    },
  },
  {
    name: 'task instance log searched',
    route: () => `/dags/a11y_flow/runs/${RUN}/tasks/chatty/-1`,
    ready: async (p) => {
      await p.getByTestId('ti-log').getByText('phase jump').waitFor();
      await p.getByTestId('log-search').fill('a');
      await p.getByTestId('log-match-current').waitFor();
    },
  },
  { name: 'trigger form', route: () => '/dags/a11y_flow/trigger', ready: (p) => p.locator('#root_nchan').waitFor() },
  { name: 'human-in-the-loop requests with their answer forms', route: () => '/requests', ready: (p) => p.getByTestId('hitl-request').nth(2).locator('[data-testid="hitl-form"]').waitFor() },
  { name: 'task instance with a request form', route: () => `/dags/a11y_hitl/runs/${RUN}/tasks/settings/-1`, ready: (p) => p.getByTestId('ti-details').getByTestId('hitl-form').locator('#root_channels').waitFor() },
  { name: 'import errors', route: () => '/import-errors', ready: (p) => p.getByTestId('import-error').first().waitFor() },
  { name: 'variables', route: () => '/variables', ready: (p) => p.getByTestId('variable-form').waitFor() },
  { name: 'connections', route: () => '/connections', ready: (p) => p.getByTestId('connection-form').waitFor() },
  {
    name: 'pools with the new pool form',
    route: () => '/pools',
    ready: async (p) => {
      await p.getByTestId('pool-row').first().waitFor();
      await p.getByTestId('pool-new').click();
      await p.getByTestId('pool-form').waitFor();
    },
  },
  // The pointer is moved away first: the click of the page before (pools) leaves it where a button of these pages shows hovered.
  { name: 'assets', route: () => '/assets', ready: (p) => away(p, p.getByTestId('asset-row').first().waitFor()) },
  { name: 'asset details with its events', route: () => `/assets/${assetId(RAW_ASSET)}`, ready: (p) => away(p, p.getByTestId('asset-event').first().waitFor()) },
  { name: 'asset graph', route: () => '/assets/graph', ready: (p) => away(p, p.locator('[data-kind="gate"]').first().waitFor()) },
  { name: 'asset-triggered run details', route: () => `/dags/a11y_consumer/runs/${assetRun}`, ready: (p) => away(p, p.getByTestId('upstream-asset-events-table').waitFor()) },
  { name: 'DAG scheduled on assets', route: () => '/dags/a11y_consumer', ready: (p) => away(p, p.getByTestId('asset-expression').waitFor()) },
  {
    name: 'backfills with a dry run',
    route: () => '/dags/a11y_flow/backfills',
    ready: async (p) => {
      await p.getByTestId('backfill-row').first().waitFor();
      await p.getByTestId('backfill-from').fill('2026-04-01T00:00');
      await p.getByTestId('backfill-to').fill('2026-04-02T00:00');
      await p.getByTestId('backfill-dry-run-button').click();
      await p.getByTestId('backfill-dry-run').waitFor();
    },
  },
];

for (const theme of ['light', 'dark'] as const) {
  describe(`${theme} mode`, () => {
    beforeAll(async () => {
      await page.evaluate(`localStorage.setItem('airless.theme', '${theme}')`);
      await page.reload();
      await page.getByTestId('dag-list').waitFor();
    });

    for (const p of PAGES) {
      it(`${p.name}: no serious or critical violation`, async () => {
        await page.goto(`${server.url}/#${p.route()}`);
        await p.ready(page);
        expect(await page.evaluate('document.documentElement.dataset.theme')).toBe(theme);
        const violations = await seriousViolations(page);
        if (violations.length > 0) await shot(page, `${theme}-${p.name.replace(/\W+/g, '-')}`);
        expect(violations, `${p.name} (${theme}):\n${describeViolations(violations)}`).toEqual([]);
      });
    }

    it('token prompt: no serious or critical violation', async () => {
      await page.goto(`${server.url}/#/`);
      await page.evaluate("localStorage.setItem('airless.apiToken', 'wrong-token')");
      await page.reload();
      await page.getByTestId('token-prompt').waitFor();
      expect(await page.evaluate('document.documentElement.dataset.theme')).toBe(theme);
      const violations = await seriousViolations(page);
      await page.evaluate(`localStorage.setItem('airless.apiToken', '${server.token}')`);
      await page.reload();
      await page.getByTestId('dag-list').waitFor();
      expect(violations, `token prompt (${theme}):\n${describeViolations(violations)}`).toEqual([]);
    });
  });
}
