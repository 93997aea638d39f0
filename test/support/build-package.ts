// Vitest global setup: build the package (`npm run build`: tsc, incremental) before the tests, so the CLI
// they start as users run it (bin/airless.js, which runs dist/) is the code under test, never a stale build.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '-s', 'build'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'inherit' });
}
