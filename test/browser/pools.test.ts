/**
 * The Pools page against a real standalone server: default_pool listed (no delete), a pool created, edited
 * and deleted from the page, a bad slots value refused under the form, the server's refusal shown.
 */
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone, tempProject } from './harness.ts';

const DAG = `import { dag, task } from 'airless';

export default dag({ dagId: 'pools_page' }, () => {
  task('call', () => 1, { pool: 'api_throttle' });
});
`;

let tmp: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('pools');

const row = (name: string) => page.locator(`[data-testid="pool-row"][data-pool="${name}"]`);
const cells = async (name: string) => (await row(name).locator('td').allTextContents()).slice(0, 6);

beforeAll(async () => {
  const project = tempProject('airless-browser-pools-', { 'pools_page.ts': DAG });
  tmp = project.dir;
  server = await startStandalone({ dagsFolder: project.dags });
  browser = await launchBrowser();
  page = browser.page;
  page.on('dialog', (d) => void d.accept());
  await page.goto(server.link);
  await page.getByTestId('nav-pools').click();
  await page.getByTestId('pools-table').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the Pools page', () => {
  it('lists default_pool, without a delete button', async () => {
    await row('default_pool').waitFor();
    expect(await cells('default_pool')).toStrictEqual(['default_pool', '128', '0', '0', '128', 'Default pool']);
    expect(await row('default_pool').getByTestId('pool-delete').count()).toBe(0);
  });

  it('creates a pool; refuses bad slots under the form', async () => {
    await page.getByTestId('pool-new').click();
    await page.getByTestId('pool-name').fill('api_throttle');
    await page.getByTestId('pool-slots').fill('many');
    await page.getByTestId('pool-save').click();
    expect(await page.getByTestId('pool-problem').textContent()).toBe("slots must be an integer >= 0, or -1 for unlimited; got 'many'");
    await page.getByTestId('pool-slots').fill('4');
    await page.getByTestId('pool-description').fill('the vendor API');
    await page.getByTestId('pool-save').click();
    await row('api_throttle').waitFor();
    expect(await cells('api_throttle')).toStrictEqual(['api_throttle', '4', '0', '0', '4', 'the vendor API']);
    expect((await api(server, 'GET', '/api/v2/pools/api_throttle')).json.slots).toBe(4);
    await shot(page, 'created');
  });

  it('edits its slots (unlimited), then deletes it', async () => {
    await row('api_throttle').getByTestId('pool-edit').click();
    expect(await page.getByTestId('pool-name').isDisabled()).toBe(true);
    await page.getByTestId('pool-slots').fill('-1');
    await page.getByTestId('pool-save').click();
    await expect.poll(() => cells('api_throttle')).toStrictEqual(['api_throttle', 'unlimited', '0', '0', 'unlimited', 'the vendor API']);
    await row('api_throttle').getByTestId('pool-delete').click();
    await expect.poll(() => row('api_throttle').count()).toBe(0);
    expect((await api(server, 'GET', '/api/v2/pools/api_throttle')).status).toBe(404);
  });

  it("shows the server's refusal: a pool that exists already", async () => {
    await page.getByTestId('pool-new').click();
    await page.getByTestId('pool-name').fill('default_pool');
    await page.getByTestId('pool-slots').fill('3');
    await page.getByTestId('pool-save').click();
    await expect.poll(() => page.getByTestId('pool-form').textContent()).toContain("pool 'default_pool' exists already");
  });
});
