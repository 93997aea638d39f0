/**
 * DAG versions in the web UI against a real standalone server whose DAG file is edited between two runs:
 * the grid marks the run on the new version, run details link the run's version to its code (its files,
 * the selected one with line numbers), the Versions tab lists both versions and diffs them (the DAG file
 * changed, its helper not, a line diff of the change). Screenshots of each step go to
 * test/browser/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Browser, launchBrowser, REPO, screenshots, type Standalone, startStandalone, until } from './harness.ts';

/** This file's waits: 30 s, polled every 100 ms. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => until(server, what, probe, { ms: 30_000, intervalMs: 100 });

const DAG_ID = 'browser_versions';
const HELPER = "export const greeting = (name: string): string => `hello ${name}`;\n";
const FLOW_V1 = `import { dag, task } from 'airless';
import { greeting } from './_greeting.ts';

export default dag({ dagId: '${DAG_ID}' }, () => {
  task('greet', () => greeting('world'));
});
`;
const FLOW_V2 = `import { dag, task } from 'airless';
import { greeting } from './_greeting.ts';

export default dag({ dagId: '${DAG_ID}' }, () => {
  const greet = task('greet', () => greeting('versions'));
  task('shout', () => greeting('again').toUpperCase()).after(greet);
});
`;

let tmp: string;
let dags: string;
let server: Standalone;
let browser: Browser;
let page: Page;
const shot = screenshots('versions');

async function currentVersion(): Promise<string | undefined> {
  const r = await api(server, 'GET', `/api/v2/dags/${DAG_ID}`);
  return r.status === 200 ? (r.json.dag_version as string) : undefined;
}

/** Trigger a run and wait until it succeeded. */
async function runToSuccess(runId: string): Promise<{ dag_version: string }> {
  const triggered = await api(server, 'POST', `/api/v2/dags/${DAG_ID}/dagRuns`, { dag_run_id: runId });
  expect(triggered.status, JSON.stringify(triggered.json)).toBe(200);
  return waitFor(`run ${runId}`, async () => {
    const r = (await api(server, 'GET', `/api/v2/dags/${DAG_ID}/dagRuns/${runId}`)).json as { state: string; dag_version: string };
    if (r.state === 'failed') throw new Error(`run ${runId} failed; server output:\n${server.output()}`);
    return r.state === 'success' ? r : undefined;
  });
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'airless-browser-versions-'));
  dags = path.join(tmp, 'dags');
  mkdirSync(dags);
  // A project of its own: its files are ES modules importing this checkout as 'airless'.
  writeFileSync(path.join(tmp, 'package.json'), '{ "private": true, "type": "module" }\n');
  mkdirSync(path.join(tmp, 'node_modules'));
  symlinkSync(REPO, path.join(tmp, 'node_modules', 'airless'));
  writeFileSync(path.join(dags, '_greeting.ts'), HELPER);
  writeFileSync(path.join(dags, 'versions_flow.ts'), FLOW_V1);
  server = await startStandalone({ dagsFolder: dags });
  browser = await launchBrowser();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('DAG versions in the web UI', () => {
  let v1 = '';
  let v2 = '';

  it('a run, the DAG file edited, a run on the new version', async () => {
    v1 = await waitFor('the DAG to load', currentVersion);
    expect((await runToSuccess('before_edit')).dag_version).toBe(v1);
    writeFileSync(path.join(dags, 'versions_flow.ts'), FLOW_V2);
    v2 = await waitFor('the edited DAG to load', async () => {
      const v = await currentVersion();
      return v !== undefined && v !== v1 ? v : undefined;
    });
    expect((await runToSuccess('after_edit')).dag_version).toBe(v2);
    const versions = (await api(server, 'GET', `/api/v2/dags/${DAG_ID}/dagVersions`)).json as { dag_versions: { version: string; runs: number; is_current: boolean }[] };
    expect(versions.dag_versions.map((v) => [v.version, v.runs, v.is_current])).toStrictEqual([
      [v1, 1, false],
      [v2, 1, true],
    ]);
  });

  it('the grid marks the run on the new version, and names each run\'s version', async () => {
    await page.goto(server.link);
    await page.getByTestId('dag-list').waitFor();
    await page.goto(`${server.url}/#/dags/${DAG_ID}`);
    await page.getByTestId('grid').waitFor();
    const marker = page.locator('[data-testid="grid-version-change"]');
    await expect.poll(() => marker.count()).toBe(1);
    expect(await marker.getAttribute('data-run-id')).toBe('after_edit');
    // The numbers come with the versions' list, which may land after the runs.
    await expect.poll(() => page.locator('[data-testid="grid-run"][data-run-id="after_edit"]').getAttribute('title')).toContain(`version v2 · ${v2.slice(0, 8)}`);
    await expect.poll(() => page.locator('[data-testid="grid-run"][data-run-id="before_edit"]').getAttribute('title')).toContain(`version v1 · ${v1.slice(0, 8)}`);
    await shot(page, 'grid');
  });

  it("run details link the run's version to its code: its files, the DAG file shown with line numbers", async () => {
    await page.locator('[data-testid="grid-run"][data-run-id="after_edit"]').click();
    const version = page.getByTestId('run-version');
    await version.waitFor();
    expect(await version.getAttribute('data-version')).toBe(v2);
    expect(await version.textContent()).toContain(`v2 · ${v2.slice(0, 8)}`);
    await shot(page, 'run-details');
    await page.getByTestId('run-version-link').click();
    const view = page.getByTestId('code-view');
    await view.waitFor();
    expect(await view.getAttribute('data-version')).toBe(v2);
    const files = page.getByTestId('file-link');
    await expect.poll(async () => (await files.allTextContents()).map((f) => f.replace(/^.*\//, ''))).toStrictEqual(['_greeting.ts', 'versions_flow.ts']);
    const source = page.getByTestId('source-view');
    await expect.poll(() => source.getAttribute('data-path')).toMatch(/versions_flow\.ts$/);
    expect(await source.locator('td.line').allTextContents()).toStrictEqual(FLOW_V2.replace(/\n$/, '').split('\n'));
    expect(await source.locator('td.ln').allTextContents()).toStrictEqual(FLOW_V2.replace(/\n$/, '').split('\n').map((_, i) => `${i + 1}`));
    await shot(page, 'code-view');
    await page.locator('[data-testid="file-link"][data-path$="_greeting.ts"]').click();
    await expect.poll(() => source.getAttribute('data-path')).toMatch(/_greeting\.ts$/);
    expect(await source.locator('td.line').allTextContents()).toStrictEqual([HELPER.trimEnd()]);
    await shot(page, 'code-view-helper');
  });

  it('the Versions tab lists both versions and diffs them: the DAG file changed, its helper not', async () => {
    await page.getByTestId('tab-versions').click();
    const rows = page.getByTestId('version-row');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute('data-version')).toBe(v1);
    expect(await rows.nth(1).getAttribute('data-current')).toBe('true');
    await page.getByTestId('diff-from').selectOption(v1);
    await page.getByTestId('diff-to').selectOption(v2);
    await shot(page, 'versions');
    await page.getByTestId('diff-button').click();
    await page.getByTestId('version-diff').waitFor();
    const changes = page.getByTestId('file-change');
    await expect.poll(() => changes.count()).toBe(2);
    expect(await page.locator('[data-testid="file-change"][data-path$="versions_flow.ts"]').getAttribute('data-change')).toBe('changed');
    expect(await page.locator('[data-testid="file-change"][data-path$="_greeting.ts"]').getAttribute('data-change')).toBe('unchanged');
    const diff = page.getByTestId('line-diff');
    await expect.poll(() => diff.count()).toBe(1);
    const added = await diff.locator('tr[data-kind="added"] td.line').allTextContents();
    const removed = await diff.locator('tr[data-kind="removed"] td.line').allTextContents();
    expect(added).toContain("  task('shout', () => greeting('again').toUpperCase()).after(greet);");
    expect(removed).toStrictEqual(["  task('greet', () => greeting('world'));"]);
    await shot(page, 'diff');
  });
});
