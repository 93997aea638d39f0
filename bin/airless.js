#!/usr/bin/env node
// The airless CLI. DAG files are TypeScript: tsx compiles them (and the library) as they load.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Task code's console output is attributed to its try with AsyncLocalStorage. On Node 22 and 23 that
// puts a hook on every promise unless async context frames are on (the default from Node 24), which
// costs about a fifth of the scheduler's time: re-run this script once with them on.
const FLAG = '--experimental-async-context-frame';
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  // The project's own Node 22 (the `node` dev dependency) is what `npx airless` and `npm run` use.
  process.stderr.write(`airless needs Node.js 22 or later (this is ${process.version}): run it as \`npx airless ...\`, which uses the project's Node 22\n`);
  process.exit(2);
}
const reexec =
  (major === 22 || major === 23) &&
  process.allowedNodeEnvironmentFlags.has(FLAG) &&
  !process.execArgv.includes(FLAG) &&
  !(process.env.NODE_OPTIONS ?? '').includes(FLAG) &&
  !process.execArgv.some((a) => a.startsWith('--inspect')) &&
  process.env.AIRLESS_NO_REEXEC === undefined;

if (reexec) {
  // node:sqlite (the standalone server's store) warns that it is experimental on every start.
  const quiet = process.execArgv.some((a) => a.startsWith('--disable-warning')) ? [] : ['--disable-warning=ExperimentalWarning'];
  const child = spawn(process.execPath, [...process.execArgv, FLAG, ...quiet, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Signals go on to the child, which decides what they mean. (A Ctrl-C on a terminal reaches both
  // processes, so the child can get it twice within milliseconds: `airless standalone` counts that once.)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../lib/cli/main.ts');
}
