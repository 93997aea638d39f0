/**
 * Global setup of the browser tests: builds the web UI (ui/dist) from the current sources, so the
 * standalone server under test serves what the checkout holds, not a stale build.
 */
import path from 'node:path';
import { build } from 'vite';

export default async function setup(): Promise<void> {
  await build({ configFile: path.resolve(import.meta.dirname, '../../ui/vite.config.ts'), logLevel: 'warn' });
}
