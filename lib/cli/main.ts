/**
 * Entry of the `airless` CLI (bin/airless.js registers tsx, then imports this file, so DAG files in
 * TypeScript load as they are). Exits when the command is done, even if task code left a timer running.
 */
import { runCli } from './program.ts';
import { Terminal } from './terminal.ts';

const term = new Terminal();
const code = await runCli(process.argv.slice(2), term);
// Everything was written with a callback (handed to the OS), so exiting now loses no output.
process.exit(code);
