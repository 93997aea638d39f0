import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { errorMessage } from '../errors.ts';
import { packageJson } from '../package-root.ts';
import { DAGS_FOLDER_ENV } from '../dagbag/dags-folder.ts';
import type { BackfillCreateOptions } from './commands/backfill-create.ts';
import type { DeleteOptions } from './commands/dags-delete.ts';
import type { ListOptions } from './commands/dags-list.ts';
import type { ListRunsOptions } from './commands/dags-list-runs.ts';
import type { VersionsOptions } from './commands/dags-versions.ts';
import type { PauseOptions } from './commands/dags-pause.ts';
import type { PoolsOptions, PoolsSetOptions } from './commands/pools.ts';
import type { StandaloneCommandOptions } from './commands/standalone.ts';
import type { DagsTestOptions } from './commands/dags-test.ts';
import type { TriggerOptions } from './commands/dags-trigger.ts';
import type { SetRunStateOptions, TasksSetStateOptions } from './commands/marks.ts';
import type { TasksClearOptions } from './commands/tasks-clear.ts';
import type { TasksListOptions } from './commands/tasks-list.ts';
import type { StatesForDagRunOptions } from './commands/tasks-states-for-dag-run.ts';
import type { TasksTestOptions } from './commands/tasks-test.ts';
import type { UiCommandOptions } from './commands/ui.ts';
import { parseCount, parseIndex, parsePort, REPROCESS_BEHAVIORS } from './conf.ts';
import { NO_TYPECHECK_ENV } from '../dagbag/typecheck.ts';
import { ApiError } from '../api/client.ts';
import { API_TOKEN_ENV } from '../standalone/home-files.ts';
import { AIRLESS_HOME_ENV } from '../standalone/log-files.ts';
import { collectPool } from './test-pools.ts';
import { Terminal } from './terminal.ts';
import { registerSecretsCommands } from './secrets-commands.ts';
import { registerHitlCommands } from './hitl-commands.ts';
import { EXIT } from './usage-error.ts';

/** The version in airless's package.json. */
function packageVersion(): string {
  try {
    const { version } = packageJson() as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Parse an integer option value >= 1 (commander calls this; its error becomes exit code 2). */
function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected an integer >= 1.');
  return Number(value);
}

/** Errors that are the user's input, not a bug: exit code 2, message only. */
const USAGE_ERRORS = new Set(['UsageError', 'DagsFolderError', 'ParamValidationError', 'DagNotFoundError', 'StackEndpointError']);

/** The `airless` command line; each command's action reports its exit code through `setExit`. */
export function buildProgram(term: Terminal, setExit: (code: number) => void): Command {
  const program = new Command('airless')
    .description('Airflow-style DAGs in TypeScript, run locally (and deployed to AWS)')
    .addOption(new Option('--dags-folder <dir>', `the DAGs folder (default: $${DAGS_FOLDER_ENV}, else ./dags)`))
    .addOption(new Option('--endpoint <url>', 'the airless API to talk to, e.g. http://127.0.0.1:8080 (default: the running standalone)').conflicts('stack'))
    .addOption(new Option('--no-typecheck', `load the DAG files without type checking them (also $${NO_TYPECHECK_ENV}=1); by default a file with type errors is an import error`))
    .addOption(new Option('--stack <name>', "a deployed stack: its API (CloudFormation output ApiUrl), requests signed with the AWS credentials"))
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
      `\nServer: the commands that act on runs talk to the airless API: --endpoint URL, --stack NAME, else the\nstandalone server this ${AIRLESS_HOME_ENV} started (\`npx airless standalone\`). dags list, list-import-errors, show\nand tasks list ask it when there is one, and read the DAGs folder otherwise.\n\nEnvironment:\n  ${DAGS_FOLDER_ENV}  the DAGs folder\n  ${AIRLESS_HOME_ENV}         where logs, the standalone's state and its api-token are (default ./.airless)\n  ${NO_TYPECHECK_ENV}  1: load the DAG files without type checking them (--no-typecheck)\n  ${API_TOKEN_ENV}    the API's bearer token (default: the token in ${AIRLESS_HOME_ENV}/api-token)\n\nExit codes: 0 success, 1 the run or task failed (or the server failed), 2 usage error (bad arguments or --conf, unknown DAG,\nDAG import error, no server, the server refused the request).`,
    );
  const global = (cmd: Command) => cmd.optsWithGlobals<ListOptions>();

  program
    .command('init')
    .description('create an airless project in dir (created if missing): a starter DAG and its test, a CDK app, package.json, tsconfig, VS Code launch settings; never overwrites a file (an existing package.json is completed)')
    .argument('[dir]', 'the project folder', '.')
    .action(async (dir: string) => setExit(await (await import('./commands/init.ts')).airlessInit(term, dir)));

  const dags = program.command('dags').description('work with DAGs');
  dags
    .command('test')
    .description('run a DAG now, in this process (breakpoints work), with the DAGs it triggers')
    .argument('<dagId>')
    .option('--conf <json>', "the run's conf: a JSON object checked against the DAG's params")
    .option('--json', 'print only the run report, as one JSON document')
    .option('-q, --quiet', "do not print the tries' log lines as they are written (task, map index and try before each)")
    .option('--skip-waits', 'skip retry delays, sensor poke intervals and deferred waits: time jumps ahead when only they are left')
    .option('--inspect [host:port]', 'wait for a debugger (VS Code, Chrome) before loading the DAGs, and say how to attach (default 127.0.0.1:9229)')
    .option('--pool <name=slots>', 'run with this pool (repeatable); pools not given are unlimited, default_pool has 128 slots', collectPool)
    .option('--respond <task=option>', "answer a human-in-the-loop task (repeatable; several options: TASK=A,B); without it a terminal asks, and with --skip-waits a timeout takes its default", (v: string, prev: string[] = []) => [...prev, v])
    .option('--respond-input <task.field=value>', "a form field's value for --respond (repeatable; JSON, else text)", (v: string, prev: string[] = []) => [...prev, v])
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-test.ts')).dagsTest(term, dagId, cmd.optsWithGlobals<DagsTestOptions>())));
  dags
    .command('list')
    .description('list the DAGs: id, file, schedule, tags, number of tasks, paused (from the server, else the DAGs folder)')
    .option('--json', 'print a JSON array of {dagId, file, schedule, tags, tasks, paused} (paused null without a server)')
    .action(async (_o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-list.ts')).dagsList(term, global(cmd))));
  dags
    .command('list-import-errors')
    .description('list the DAG files that failed to import, and why (exit code 0 even when some did)')
    .option('--json', 'print a JSON array of {file, error}')
    .action(async (_o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-list.ts')).dagsListImportErrors(term, global(cmd))));
  dags
    .command('show')
    .description("print the DAG's graph as Mermaid (flowchart LR; task groups as subgraphs; mapped tasks marked [ ])")
    .argument('<dagId>')
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-show.ts')).dagsShow(term, dagId, global(cmd))));
  dags
    .command('list-runs')
    .description("list the DAG's runs on the server, newest first")
    .argument('<dagId>')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(['queued', 'running', 'success', 'failed']))
    .option('--limit <n>', 'at most this many runs (default 100)', parsePositive)
    .option('--json', 'print a JSON array of the API\'s DAGRun objects')
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-list-runs.ts')).dagsListRuns(term, dagId, cmd.optsWithGlobals<ListRunsOptions>())));
  dags
    .command('versions')
    .description("list the DAG's versions on the server, oldest first: first seen, runs, code bundle (kept or pruned), the current one (*)")
    .argument('<dagId>')
    .option('--json', "print the API's DagVersion list ({dag_versions, total_entries})")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-versions.ts')).dagsVersions(term, dagId, cmd.optsWithGlobals<VersionsOptions>())));
  dags
    .command('trigger')
    .description('create a run on the server (--wait: follow it and exit 0 if it succeeded, 1 if it failed)')
    .argument('<dagId>')
    .option('--conf <json>', "the run's conf: a JSON object checked against the DAG's params")
    .option('--run-id <id>', "the run's id, unique in the DAG (default manual__<logical date> with --logical-date, else manual__<now>_<8 random letters and digits>)")
    .option('--logical-date <date>', "the run's logical date, ISO-8601 (default now)")
    .option('--wait', 'follow the run until it ends and exit with its outcome')
    .option('--json', "print the API's DAGRun object (with --wait, the finished run)")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-trigger.ts')).dagsTrigger(term, dagId, cmd.optsWithGlobals<TriggerOptions>())));
  dags
    .command('pause')
    .description("pause the DAG: its schedule creates no runs (triggering still works)")
    .argument('<dagId>')
    .option('--json', "print the API's DAG object")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-pause.ts')).dagsSetPaused(term, dagId, true, cmd.optsWithGlobals<PauseOptions>())));
  dags
    .command('unpause')
    .description('unpause the DAG: its schedule creates runs again')
    .argument('<dagId>')
    .option('--json', "print the API's DAG object")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-pause.ts')).dagsSetPaused(term, dagId, false, cmd.optsWithGlobals<PauseOptions>())));
  dags
    .command('delete')
    .description("delete the DAG's runs, task instances, XComs and logs on the server (its file stays)")
    .argument('<dagId>')
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/dags-delete.ts')).dagsDelete(term, dagId, cmd.optsWithGlobals<DeleteOptions>())));
  dags
    .command('set-run-state')
    .description('mark a run on the server success or failed (failed stops a running run: its running tries are aborted), or queue a finished one again')
    .argument('<dagId>')
    .argument('<runId>')
    .argument('<state>', 'success, failed or queued')
    .option('--note <text>', "also set the run's note")
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .option('--json', "print the API's DAGRun object")
    .action(async (dagId: string, runId: string, state: string, _o: unknown, cmd: Command) =>
      setExit(await (await import('./commands/marks.ts')).dagsSetRunState(term, dagId, runId, state, cmd.optsWithGlobals<SetRunStateOptions>())),
    );

  const tasks = program.command('tasks').description('work with tasks');
  tasks
    .command('test')
    .description('run one task instance alone, without its dependencies, and print its log and result')
    .argument('<dagId>')
    .argument('<taskId>')
    .option('--conf <json>', "the run's conf: a JSON object checked against the DAG's params")
    .option('--map-index <n>', 'the instance of a mapped task (default 0)', parseIndex)
    .option('--input <json>', "the task's input as JSON (its argument; a mapped instance's item), instead of its upstreams' results")
    .option('--from-run <runId>', "read its upstreams' results (XComs) from this run of the DAG on the server (--endpoint, --stack, else the standalone)")
    .option('--json', 'print only the result, as one JSON document')
    .action(async (dagId: string, taskId: string, _o: unknown, cmd: Command) =>
      setExit(await (await import('./commands/tasks-test.ts')).tasksTest(term, dagId, taskId, cmd.optsWithGlobals<TasksTestOptions>())),
    );
  tasks
    .command('list')
    .description("list the DAG's tasks: operator, trigger rule, retries, downstream tasks")
    .argument('<dagId>')
    .option('--json', "print a JSON array of the API's Task objects")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/tasks-list.ts')).tasksList(term, dagId, cmd.optsWithGlobals<TasksListOptions>())));
  tasks
    .command('states-for-dag-run')
    .description('list the task instances of a run on the server: state, try, times, last error')
    .argument('<dagId>')
    .argument('<runId>')
    .option('--json', "print a JSON array of the API's TaskInstance objects")
    .action(async (dagId: string, runId: string, _o: unknown, cmd: Command) =>
      setExit(await (await import('./commands/tasks-states-for-dag-run.ts')).tasksStatesForDagRun(term, dagId, runId, cmd.optsWithGlobals<StatesForDagRunOptions>())),
    );
  tasks
    .command('clear')
    .description("clear task instances of a run so that they run again (tries continue; retries count again)")
    .argument('<dagId>')
    .requiredOption('--run-id <id>', 'the run')
    .addOption(new Option('--task-regex <regex>', 'the tasks whose id matches (default: every task)').conflicts('taskIds'))
    .option('-t, --task-ids <ids>', 'these tasks, comma-separated (default: every task)')
    .option('--only-failed', 'only failed and upstream_failed instances')
    .option('--downstream', 'also the tasks downstream of those chosen')
    .option('--upstream', 'also the tasks upstream of those chosen')
    .option('--dry-run', 'show what would be cleared; change nothing')
    .option('--run-on-latest-version', "rerun them on the DAG's latest version (the run's version becomes it); default: on the run's own version")
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .option('--json', "print the API's clear result")
    .action(async (dagId: string, _o: unknown, cmd: Command) => setExit(await (await import('./commands/tasks-clear.ts')).tasksClear(term, dagId, cmd.optsWithGlobals<TasksClearOptions>())));
  tasks
    .command('set-state')
    .description('mark a task instance of a run on the server success, failed or skipped (a running try is aborted); in a running run its downstream tasks go on')
    .argument('<dagId>')
    .argument('<runId>')
    .argument('<taskId>')
    .argument('<state>', 'success, failed or skipped')
    .option('--map-index <n>', 'only this instance of a mapped task (default: every instance)', parseIndex)
    .option('--upstream', 'also the tasks upstream of it')
    .option('--downstream', 'also the tasks downstream of it')
    .option('--future', 'also the same tasks in runs with a later logical date')
    .option('--past', 'also the same tasks in runs with an earlier logical date')
    .option('--dry-run', 'show what would be marked; change nothing')
    .option('--note <text>', "also set the instance's note")
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .option('--json', "print the API's list of the task instances marked")
    .action(async (dagId: string, runId: string, taskId: string, state: string, _o: unknown, cmd: Command) =>
      setExit(await (await import('./commands/marks.ts')).tasksSetState(term, dagId, runId, taskId, state, cmd.optsWithGlobals<TasksSetStateOptions>())),
    );

  registerHitlCommands(tasks, term, setExit);

  const backfill = program.command('backfill').description('runs for past logical dates of a DAG\'s schedule');
  backfill
    .command('create')
    .description("create a backfill on the server: a run per logical date of the schedule in [from, to]")
    .requiredOption('--dag-id <dagId>', 'the DAG')
    .requiredOption('--from-date <date>', 'the first logical date (ISO-8601; a date alone is midnight UTC)')
    .requiredOption('--to-date <date>', 'the last logical date (ISO-8601; a date alone is midnight UTC)')
    .addOption(new Option('--reprocess-behavior <behavior>', 'dates that have a run: none (skip), failed (rerun failed), completed (rerun finished)').choices(REPROCESS_BEHAVIORS).default('none'))
    .option('--max-active-runs <n>', "runs of the backfill at once (default the server's, 10)", parsePositive)
    .option('--conf <json>', "every run's conf: a JSON object checked against the DAG's params")
    .option('--dry-run', 'list the logical dates and what would happen to each; create nothing')
    .option('--json', "print the API's Backfill object (with --dry-run, the dates)")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await import('./commands/backfill-create.ts')).backfillCreate(term, cmd.optsWithGlobals<BackfillCreateOptions>())));
  const pools = program.command('pools').description('pools on the server: named slot limits that tasks take (`pool`, `poolSlots`) while queued or running');
  const poolsCmd = async () => import('./commands/pools.ts');
  pools
    .command('set')
    .description('create the pool, or change its slots (a pool shrunk below what tries hold lets them finish and starts none until fewer do)')
    .argument('<name>')
    .argument('<slots>', 'an integer >= 0 (0: no task of it starts), or -1 for unlimited')
    .option('--description <text>', "the pool's description (default: kept when it exists, else none)")
    .option('--json', "print the API's Pool object")
    .action(async (name: string, slots: string, _o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsSet(term, name, slots, cmd.optsWithGlobals<PoolsSetOptions>())));
  pools
    .command('get')
    .description('show a pool: slots, and how many running and queued tries hold')
    .argument('<name>')
    .option('--json', "print the API's Pool object")
    .action(async (name: string, _o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsGet(term, name, cmd.optsWithGlobals<PoolsOptions>())));
  pools
    .command('list')
    .description('list the pools (default_pool first): slots, and how many running and queued tries hold')
    .option('--json', "print a JSON array of the API's Pool objects")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsList(term, cmd.optsWithGlobals<PoolsOptions>())));
  pools
    .command('delete')
    .description('delete a pool (not default_pool, nor one whose slots tries hold); tasks waiting for it fail')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsDelete(term, name, cmd.optsWithGlobals<PoolsOptions>())));
  pools
    .command('import')
    .description('create or change the pools of a JSON file, as Airflow\'s: { "<name>": { "slots": 4, "description": "..." } }')
    .argument('<file>')
    .option('--json', "print a JSON array of the API's Pool objects")
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsImport(term, file, cmd.optsWithGlobals<PoolsOptions>())));
  pools
    .command('export')
    .description("write every pool to a JSON file, as Airflow's (pools import reads it)")
    .argument('<file>')
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await poolsCmd()).poolsExport(term, file, cmd.optsWithGlobals<PoolsOptions>())));
  program
    .command('standalone')
    .description('run the scheduler, the REST API and the web UI in this process (state in $AIRLESS_HOME/airless.db); Ctrl-C stops')
    .option('--port <port>', 'TCP port (0: a free one)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--keep-versions <n>', "how many of each DAG's newest versions keep their code beside those runs use (older ones are pruned)", parseCount)
    .action(async (_o: unknown, cmd: Command) => setExit(await (await import('./commands/standalone.ts')).standalone(term, cmd.optsWithGlobals<StandaloneCommandOptions>())));
  program
    .command('ui')
    .description('serve the web UI on this machine in front of a deployed stack (--stack NAME) or an API (--endpoint URL), forwarding its requests signed with your AWS credentials; Ctrl-C stops')
    .option('--port <port>', 'TCP port (0: a free one)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--sigv4', 'sign the requests to --endpoint with SigV4 (implied for a Lambda Function URL)')
    .option('--token <token>', "the local token the browser must send (default: a new random one at each start)")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await import('./commands/ui.ts')).ui(term, cmd.optsWithGlobals<UiCommandOptions>())));
  registerSecretsCommands(program, term, setExit);
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
    if (e instanceof ApiError) {
      // 4xx: the request was wrong (bad conf, unknown DAG, refused token...); anything else: the server failed.
      await term.err(`error: ${e.detail}${e.status >= 500 ? ` (HTTP ${e.status})` : ''}\n`);
      return e.status >= 400 && e.status < 500 ? EXIT.usage : EXIT.failed;
    }
    if (e instanceof Error && USAGE_ERRORS.has(e.name)) {
      await term.err(`error: ${e.name === 'UsageError' ? e.message : errorMessage(e)}\n`);
      return EXIT.usage;
    }
    await term.err(`airless: unexpected error: ${e instanceof Error && e.stack ? e.stack : errorMessage(e)}\n`);
    return EXIT.failed;
  }
}
