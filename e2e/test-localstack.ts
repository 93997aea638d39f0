// `npm run test:localstack [-- vitest options]`: the e2e suite against LocalStack. With AWS_ENDPOINT_URL
// set (e.g. http://localhost:4566, after `cdklocal deploy`), the harness's DynamoDB table and S3 bucket
// are LocalStack's (AIRLESS_E2E_TABLE / AIRLESS_E2E_BUCKET name existing ones, e.g. the deployed stack's;
// otherwise the harness makes its own and removes them). Without it, says the suite was skipped, and
// exits 0: skipped is not passed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const endpoint = process.env['AWS_ENDPOINT_URL'];
if (!endpoint) {
  process.stdout.write('test:localstack SKIPPED: AWS_ENDPOINT_URL is not set (see README: LocalStack)\n');
  process.exit(0);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
process.stdout.write(`test:localstack: running the e2e suite against ${endpoint}\n`);
const child = spawn(process.execPath, [vitest, 'run', '--config', 'e2e/vitest.config.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    AIRLESS_E2E_TARGET: 'localstack',
    // LocalStack accepts any credentials; give some when none are configured.
    AWS_ACCESS_KEY_ID: process.env['AWS_ACCESS_KEY_ID'] ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env['AWS_SECRET_ACCESS_KEY'] ?? 'test',
    AWS_REGION: process.env['AWS_REGION'] ?? 'us-east-1',
  },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
