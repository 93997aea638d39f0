#!/usr/bin/env node
// The airless CLI: the compiled library (dist/, `npm run build`). DAG files are TypeScript: tsx compiles
// them as they load.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Task code's console output is attributed to its try with AsyncLocalStorage. On Node 22 and 23 that
// puts a hook on every promise unless async context frames are on (the default from Node 24), which
// costs about a fifth of the scheduler's time: run this script again with them on. A flag of Node's
// own can only be given when a process starts, so this process is replaced by one started with it
// (`process.execve`: the same process id, nothing left behind). Where that is missing (Windows, Node
// before 22.15), a child process runs with it and stops when this process is gone.
const FLAG = '--experimental-async-context-frame';
/** Set for the child process of the fallback: stop when the parent is gone (its IPC channel closes). */
const WATCH_PARENT = 'AIRLESS_WATCH_PARENT';
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
  const args = [...process.execArgv, FLAG, ...quiet, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  // Not when this process has an IPC channel to its parent: a new program would lose it.
  if (typeof process.execve === 'function' && process.platform !== 'win32' && !process.channel) {
    process.execve(process.execPath, [process.execPath, ...args], process.env);
  }
  const child = spawn(process.execPath, args, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...process.env, [WATCH_PARENT]: '1' } });
  // Signals go on to the child, which decides what they mean. (A Ctrl-C on a terminal reaches both
  // processes, so the child can get it twice within milliseconds: `airless standalone` counts that once.)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  if (process.env[WATCH_PARENT] !== undefined && process.channel) {
    delete process.env[WATCH_PARENT];
    // The parent is gone (even SIGKILLed): its end of the channel closed. Stop as on SIGTERM (a server
    // stops cleanly); with nothing listening for SIGTERM, exit.
    process.channel.unref();
    process.on('disconnect', () => {
      if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
      else process.exit(143);
    });
  }
  const main = new URL('../dist/lib/cli/main.js', import.meta.url);
  if (!existsSync(main)) {
    process.stderr.write(`airless is not built (${fileURLToPath(main)} is missing): run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
    process.exit(2);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(main.href);
}
