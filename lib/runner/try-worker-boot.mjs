// The entry of an isolated try's worker thread (lib/runner/worker-isolation.ts): the library and DAG
// files are TypeScript, so tsx is registered in this thread before anything of them loads.
import { register } from 'tsx/esm/api';

register();
await import('./try-worker.ts');
