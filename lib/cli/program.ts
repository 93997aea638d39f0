import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { errorMessage } from '../errors.ts';
import { DAGS_FOLDER_ENV } from '../dagbag/dags-folder.ts';
import { dagsList, dagsListImportErrors, type ListOptions } from './commands/dags-list.ts';
import { dagsShow } from './commands/dags-show.ts';
import { dagsTest, type DagsTestOptions } from './commands/dags-test.ts';
import { tasksTest, type TasksTestOptions } from './commands/tasks-test.ts';
import { parseIndex } from './conf.ts';
import { AIRLESS_HOME_ENV } from './log-files.ts';
import { Terminal } from './terminal.ts';
import { EXIT } from './usage-error.ts';

/** The version in airless's package.json. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Errors that are the user's input, not a bug: exit code 2, message only. */
const USAGE_ERRORS = new Set(['UsageError', 'DagsFolderError', 'ParamValidationError', 'DagNotFoundError']);

/** The `airless` command line; each command's action reports its exit code through `setExit`. */
export function buildProgram(term: Terminal, setExit: (code: number) => void): Command {
  const program = new Command('airless')
    .description('Airflow-style DAGs in TypeScript, run locally (and deployed to AWS)')
    .addOption(new Option('--dags-folder <dir>', `the DAGs folder (default: $${DAGS_FOLDER_ENV}, else ./dags)`))
    .version(packageVersion(), '-V, --version')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void term.stdout.write(s),
      writeErr: (s) => void term.stderr.write(s),
    })
    .addHelpText(
      'after',
      `\nEnvironment:\n  ${DAGS_FOLDER_ENV}  the DAGs folder\n  ${AIRLESS_HOME_ENV}         where logs go (default ./.airless)\n\nExit codes: 0 success, 1 the run or task failed, 2 usage error (bad arguments or --conf, unknown DAG, DAG import error).`,
    );
  const global = (cmd: Command) => cmd.optsWithGlobals<ListOptions>();

  const dags = program.command('dags').description('work with DAGs');
  dags
    .command('test')
    .description('run a DAG now, in this process (breakpoints work), with the DAGs it triggers')
    .argument('<dagId>')
    .option('--conf <json>', "the run's conf: a JSON object checked against the DAG's params")
    .option('--json', 'print only the run report, as one JSON document')
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await dagsTest(term, dagId, cmd.optsWithGlobals<DagsTestOptions>())));
  dags
    .command('list')
    .description('list the DAGs: id, file, schedule, tags, number of tasks')
    .option('--json', 'print a JSON array')
    .action(async (_o: unknown, cmd: Command) => setExit(await dagsList(term, global(cmd))));
  dags
    .command('list-import-errors')
    .description('list the DAG files that failed to import, and why (exit code 0 even when some did)')
    .option('--json', 'print a JSON array of {file, error}')
    .action(async (_o: unknown, cmd: Command) => setExit(await dagsListImportErrors(term, global(cmd))));
  dags
    .command('show')
    .description("print the DAG's graph as Mermaid (flowchart LR; task groups as subgraphs; mapped tasks marked [ ])")
    .argument('<dagId>')
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await dagsShow(term, dagId, global(cmd))));

  const tasks = program.command('tasks').description('work with tasks');
  tasks
    .command('test')
    .description('run one task instance alone, without its dependencies, and print its log and result')
    .argument('<dagId>')
    .argument('<taskId>')
    .option('--conf <json>', "the run's conf: a JSON object checked against the DAG's params")
    .option('--map-index <n>', 'the instance of a mapped task (default 0)', parseIndex)
    .option('--json', 'print only the result, as one JSON document')
    .action(async (dagId: string, taskId: string, _o: unknown, cmd: Command) =>
      setExit(await tasksTest(term, dagId, taskId, cmd.optsWithGlobals<TasksTestOptions>())),
    );
  return program;
}

/** Run the CLI on `argv` (without the node and script paths); resolves with the exit code. */
export async function runCli(argv: readonly string[], term: Terminal = new Terminal()): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(term, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, `help <command>` and --version exit 0; everything else commander stops at is a usage error.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof Error && USAGE_ERRORS.has(e.name)) {
      await term.err(`error: ${e.name === 'UsageError' ? e.message : errorMessage(e)}\n`);
      return EXIT.usage;
    }
    await term.err(`airless: unexpected error: ${e instanceof Error && e.stack ? e.stack : errorMessage(e)}\n`);
    return EXIT.failed;
  }
}
