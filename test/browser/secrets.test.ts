/**
 * The Variables and Connections pages against a real standalone server: linked from the nav, listing,
 * adding, editing and deleting; secrets masked on the page (a sensitive variable's value, every password)
 * and kept when a form sends the mask back. Screenshots go to test/browser/screenshots/.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, screenshots, type Standalone, startStandalone } from './harness.ts';

let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('secrets');

/** A row of the server's SQLite file (what the store holds, unmasked). */
function stored(sql: string, ...args: string[]): Record<string, unknown> | undefined {
  const db = new DatabaseSync(path.join(server.home, 'airless.db'), { readOnly: true });
  try {
    return db.prepare(sql).get(...args);
  } finally {
    db.close();
  }
}

const cells = (testId: string) => page.getByTestId(testId).locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, -1).map((td) => td.textContent ?? '')));

beforeAll(async () => {
  server = await startStandalone();
  browser = await launchBrowser();
  page = browser.page;
  page.on('dialog', (d) => void d.accept());
  await page.goto(server.link);
  await page.getByTestId('dag-list').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('variables page', () => {
  it('adds, lists (a sensitive value masked), edits and deletes variables', async () => {
    await page.getByTestId('nav-variables').click();
    await page.getByTestId('no-variables').waitFor();
    const add = async (key: string, value: string, description = '') => {
      await page.getByTestId('variable-key').fill(key);
      await page.getByTestId('variable-value-input').fill(value);
      await page.getByTestId('variable-description').fill(description);
      await page.getByTestId('variable-save').click();
    };
    await add('region', 'eu-west-1', 'where the data is');
    await add('vendor_api_key', 'vk-browser-secret');
    await expect.poll(() => cells('variables-table')).toEqual([
      ['region', 'eu-west-1', 'where the data is'],
      ['vendor_api_key', '***', ''],
    ]);
    await shot(page, 'variables');
    // Editing the masked one without touching its value keeps it; the description changes.
    await page.getByRole('button', { name: 'Edit variable vendor_api_key' }).click();
    expect(await page.getByTestId('variable-value-input').inputValue()).toBe('***');
    await page.getByTestId('variable-description').fill('the vendor key');
    await page.getByTestId('variable-save').click();
    await expect.poll(() => cells('variables-table')).toEqual([
      ['region', 'eu-west-1', 'where the data is'],
      ['vendor_api_key', '***', 'the vendor key'],
    ]);
    expect(stored('SELECT value, description FROM variables WHERE key = ?', 'vendor_api_key')).toEqual({ value: 'vk-browser-secret', description: 'the vendor key' });
    // A duplicate key is refused with the server's message.
    await add('region', 'x');
    expect(await page.getByTestId('variable-form').getByTestId('error').textContent()).toBe("variable 'region' exists already");
    await page.getByRole('button', { name: 'Delete variable region' }).click();
    await expect.poll(() => cells('variables-table')).toEqual([['vendor_api_key', '***', 'the vendor key']]);
  });
});

describe('connections page', () => {
  it('adds, lists (passwords masked), edits (the masked password kept) and deletes connections', async () => {
    await page.getByTestId('nav-connections').click();
    await page.getByTestId('no-connections').waitFor();
    const fill = async (fields: Record<string, string>) => {
      for (const [k, v] of Object.entries(fields)) await page.getByTestId(`connection-${k}`).fill(v);
    };
    await fill({ id: 'warehouse', conn_type: 'postgres', host: 'db.internal', port: '5432', login: 'etl', password: 'pw-from-the-browser', schema: 'dw', extra: '{"sslmode": "require"}' });
    await page.getByTestId('connection-save').click();
    await expect.poll(() => cells('connections-table')).toEqual([['warehouse', 'postgres', 'db.internal', '5432', 'etl', '***', 'dw']]);
    expect(await page.content()).not.toContain('pw-from-the-browser');
    await shot(page, 'connections');
    // A bad port is caught before the request.
    await page.getByRole('button', { name: 'Edit connection warehouse' }).click();
    expect(await page.getByTestId('connection-password').inputValue()).toBe('***');
    await fill({ port: '70000' });
    await page.getByTestId('connection-save').click();
    expect(await page.getByTestId('connection-form').getByTestId('error').textContent()).toBe('The port must be a whole number from 0 to 65535.');
    await fill({ port: '6432', host: 'db2.internal' });
    await page.getByTestId('connection-save').click();
    await expect.poll(() => cells('connections-table')).toEqual([['warehouse', 'postgres', 'db2.internal', '6432', 'etl', '***', 'dw']]);
    expect(stored('SELECT password, port, extra FROM connections WHERE connection_id = ?', 'warehouse')).toEqual({ password: 'pw-from-the-browser', port: 6432, extra: '{"sslmode": "require"}' });
    expect((await api(server, 'GET', '/api/v2/connections/warehouse')).json.password).toBe('***');
    await page.getByRole('button', { name: 'Delete connection warehouse' }).click();
    await page.getByTestId('no-connections').waitFor();
  });
});
