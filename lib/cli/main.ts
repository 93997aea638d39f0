/**
 * Entry of the `airless` CLI (bin/airless.js registers tsx, then imports this file compiled, so DAG files
 * in TypeScript load as they are). DAG files' `import ... from 'airless'` is this library (one copy in the
 * process). Exits when the command is done, even if task code left a timer running.
 */
import { registerLibraryResolution } from '../dagbag/library-resolution.ts';
import { runCli } from './program.ts';
import { Terminal } from './terminal.ts';

registerLibraryResolution();

const term = new Terminal();
const code = await runCli(process.argv.slice(2), term);
// Everything was written with a callback (handed to the OS), so exiting now loses no output.
process.exit(code);
