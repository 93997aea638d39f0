/**
 * Import errors in the web UI: a standalone server on a DAGs folder with one broken file shows a banner on
 * the DAG list, linking to the import errors page with the file and its error; the good DAG still loads.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Browser, launchBrowser, screenshots, type Standalone, startStandalone } from './harness.ts';

let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('import-errors');

beforeAll(async () => {
  server = await startStandalone({ dagsFolder: path.join(import.meta.dirname, 'fixtures/dags') });
  browser = await launchBrowser();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('shows a banner on the DAG list and the broken file with its error on the import errors page', async () => {
  await page.goto(server.link);
  await page.getByTestId('dag-row-browser_good').waitFor();
  expect(await page.getByTestId('dag-row-browser_broken').count()).toBe(0);
  const banner = page.getByTestId('import-error-banner');
  await banner.getByText('1 DAG file failed to import').waitFor();
  await shot(page, 'banner');

  await banner.getByRole('link').click();
  const errors = page.getByTestId('import-error');
  await expect.poll(() => errors.count()).toBe(1);
  expect(await errors.locator('.mono').textContent()).toContain('broken_dag.ts');
  expect(await errors.locator('pre').textContent()).toMatch(/browser_broken.*cycle|cycle.*browser_broken/is);
  await shot(page, 'page');
});
