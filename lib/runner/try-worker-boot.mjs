// The entry of an isolated try's worker thread (lib/runner/worker-isolation.ts). DAG files are
// TypeScript, so tsx is registered in this thread before anything of them loads; then the worker module
// of this copy of the library: compiled beside this file in the package (dist/lib/runner), the source
// in the repository.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const compiled = new URL('./try-worker.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('./try-worker.ts', import.meta.url).href);
