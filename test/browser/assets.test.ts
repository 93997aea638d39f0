/**
 * The assets pages against a real standalone server over a DAGs folder of their own (a producer, a consumer
 * of its asset, and a consumer of it and an approval): the producer materialized from its asset's page, the
 * consumer's run appearing with the events that triggered it, an event created from the UI completing the
 * second consumer, the DAG page's asset condition, the asset graph with its and-gate, the run-type filter.
 */
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetId } from '../../lib/model/asset.ts';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject, until } from './harness.ts';

const LAKE = `import { asset, dag, task } from 'airless';

const raw = asset('s3://browser-lake/raw.csv', { name: 'raw', group: 'lake' });
const approved = asset('s3://browser-lake/approved');

export const producer = dag({ dagId: 'browser_producer' }, () => {
  task('extract', (ctx) => {
    ctx.outletEvents(raw).extra = { rows: 3 };
    return 3;
  }, { outlets: [raw] });
});

export const consumer = dag({ dagId: 'browser_consumer', schedule: raw }, () => {
  task('load', () => 1);
});

export const gated = dag({ dagId: 'browser_gated', schedule: raw.and(approved) }, () => {
  task('publish', () => 1);
});
`;
const RAW = 's3://browser-lake/raw.csv';
const APPROVED = 's3://browser-lake/approved';

let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('assets');

const runsOf = async (dagId: string) => (await api(server, 'GET', `/api/v2/dags/${dagId}/dagRuns`)).json.dag_runs as { dag_run_id: string; state: string; run_type: string }[];
const row = (uri: string) => page.locator(`[data-testid="asset-row"][data-uri="${uri}"]`);

beforeAll(async () => {
  const project = tempProject('airless-browser-assets-', { 'lake.ts': LAKE });
  tmp = project.dir;
  server = await startStandalone({ dagsFolder: project.dags });
  browser = await launchBrowser();
  page = browser.page;
  await until(server, 'the DAGs loaded', async () => ((await api(server, 'GET', '/api/v2/dags/browser_gated')).status === 200 ? true : undefined));
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the assets pages', () => {
  it('lists the assets with their producing tasks and consuming DAGs; the search filters them', async () => {
    await page.getByTestId('nav-assets').click();
    await row(RAW).waitFor();
    expect(await row(RAW).getByTestId('asset-producers').textContent()).toBe('browser_producer.extract');
    expect(await row(RAW).getByTestId('asset-consumers').locator('a').allTextContents()).toStrictEqual(['browser_consumer', 'browser_gated']);
    expect(await row(RAW).getByTestId('asset-last-event').textContent()).toBe('none');
    expect(await page.getByTestId('asset-count').textContent()).toBe('2 assets');
    await page.getByTestId('asset-search').fill('approv');
    await expect.poll(() => page.getByTestId('asset-row').count()).toBe(1);
    expect(await page.getByTestId('asset-count').textContent()).toBe('1 of 2 assets');
    expect(page.url()).toContain('q=approv');
    await page.getByTestId('asset-search').fill('');
    await shot(page, 'list');
  });

  it('materializes raw from its page: the producer runs, its event shows, the consumer run appears', async () => {
    await row(RAW).getByTestId('asset-link').click();
    await page.getByTestId('asset-details').waitFor();
    expect(await page.getByTestId('asset-uri').textContent()).toBe(RAW);
    await page.getByTestId('materialize').click();
    await page.getByTestId('materialized').waitFor();
    const event = page.locator('[data-testid="asset-event"][data-source-kind="task"]');
    await event.waitFor({ timeout: 60_000 });
    expect(await event.getByTestId('event-source').locator('a').textContent()).toBe('browser_producer.extract');
    expect(JSON.parse((await event.getByTestId('event-extra').textContent())!)).toStrictEqual({ rows: 3 });
    const created = event.locator('[data-testid="created-run"][data-dag-id="browser_consumer"]');
    await created.waitFor();
    const consumerRun = (await created.getAttribute('data-run-id'))!;
    expect(consumerRun).toMatch(/^asset_triggered__/);
    await shot(page, 'raw-materialized');
    await created.locator('a').click();
    await page.getByTestId('run-details').waitFor();
    expect(await page.getByTestId('run-details').getAttribute('data-run-id')).toBe(consumerRun);
    const upstream = page.getByTestId('upstream-asset-events-table').getByTestId('asset-event');
    await upstream.first().waitFor();
    expect(await upstream.count()).toBe(1);
    expect(await upstream.first().getAttribute('data-source-kind')).toBe('task');
    await upstream.first().locator(`[data-testid="created-run"][data-run-id="${consumerRun}"]`).waitFor();
    await until(server, 'the consumer run to succeed', async () => ((await runsOf('browser_consumer'))[0]?.state === 'success' ? true : undefined));
    await shot(page, 'consumer-run');
  });

  it('creates an event from the UI: a bad extra is refused under the form; a good one completes the gated DAG', async () => {
    await page.goto(`${server.url}/#/assets/${assetId(APPROVED)}`);
    await page.getByTestId('create-event-form').waitFor();
    await page.getByTestId('event-extra-input').fill('[1, 2]');
    await page.getByTestId('create-event').click();
    expect(await page.getByTestId('event-problem').textContent()).toBe('extra must be a JSON object, e.g. {"rows": 42}');
    await page.getByTestId('event-extra-input').fill('{"by": "qa"}');
    await page.getByTestId('create-event').click();
    await page.getByTestId('event-created').waitFor();
    expect(await page.getByTestId('event-created').textContent()).toMatch(/it started browser_gated \(asset_triggered__\S+\)\.$/);
    const event = page.locator('[data-testid="asset-event"][data-source-kind="api"]');
    await event.waitFor();
    expect(JSON.parse((await event.getByTestId('event-extra').textContent())!)).toStrictEqual({ by: 'qa' });
    await event.locator('[data-testid="created-run"][data-dag-id="browser_gated"]').waitFor();
    const runs = await until(server, 'the gated run', async () => ((await runsOf('browser_gated')).length === 1 ? runsOf('browser_gated') : undefined));
    expect(runs[0]!.run_type).toBe('asset_triggered');
    await shot(page, 'event-created');
  });

  it("shows a DAG's asset condition on its page, and asset_triggered in the run-type filter", async () => {
    await page.goto(`${server.url}/#/dags/browser_gated`);
    const expression = page.getByTestId('asset-expression');
    await expression.waitFor();
    expect(await expression.textContent()).toBe('raw and s3://browser-lake/approved');
    expect(await page.getByTestId('asset-schedule').textContent()).toBe('on assets raw and s3://browser-lake/approved');
    expect(await expression.getByTestId('asset-expression-asset').evaluateAll((els) => els.map((e) => e.getAttribute('data-uri')))).toStrictEqual([RAW, APPROVED]);
    await page.getByTestId('filter-run-type').selectOption('asset_triggered');
    await page.locator('[data-testid="grid-run"][data-run-type="asset_triggered"]').first().waitFor();
  });

  it('draws the asset graph: producer → raw → consumers, and the and-gate before the gated DAG', async () => {
    await page.goto(`${server.url}/#/assets/graph`);
    await page.getByTestId('asset-graph-node').first().waitFor();
    const nodes = await page.getByTestId('asset-graph-node').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-kind')} ${e.getAttribute('data-node-id')}`).sort());
    expect(nodes).toStrictEqual([
      `asset asset:${APPROVED}`,
      `asset asset:${RAW}`,
      'dag dag:browser_consumer',
      'dag dag:browser_gated',
      'dag dag:browser_producer',
      'gate gate:browser_gated',
    ]);
    const edges = await page.getByTestId('asset-graph-edge').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-from')} -> ${e.getAttribute('data-to')}`).sort());
    expect(edges).toStrictEqual([
      `asset:${APPROVED} -> gate:browser_gated`,
      `asset:${RAW} -> dag:browser_consumer`,
      `asset:${RAW} -> gate:browser_gated`,
      `dag:browser_producer -> asset:${RAW}`,
      'gate:browser_gated -> dag:browser_gated',
    ]);
    expect(await page.locator('[data-node-id="gate:browser_gated"] text').textContent()).toBe('and');
    await shot(page, 'graph');
    await page.locator(`[data-node-id="asset:${APPROVED}"]`).click();
    await page.getByTestId('asset-details').waitFor();
    expect(await page.getByTestId('asset-uri').textContent()).toBe(APPROVED);
  });
});
