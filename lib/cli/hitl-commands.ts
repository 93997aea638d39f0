/** `airless tasks respond` and `airless tasks pending` (registered by program.ts on the `tasks` group). */
import type { Command } from 'commander';
import type { TasksPendingOptions, TasksRespondOptions } from './commands/tasks-hitl.ts';
import { parseIndex } from './conf.ts';
import type { Terminal } from './terminal.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerHitlCommands(tasks: Command, term: Terminal, setExit: (code: number) => void): void {
  const h = () => import('./commands/tasks-hitl.ts');
  tasks
    .command('respond')
    .description("answer a human-in-the-loop task's request on the server (approval, choice or form): its deferred try then goes on")
    .argument('<dagId>')
    .argument('<runId>')
    .argument('<taskId>')
    .option('--map-index <n>', 'the instance of a mapped task (default: -1, not mapped)', parseIndex)
    .option('--option <option>', 'an option chosen (repeat for several); a form\'s is OK (the default for a form)', collect)
    .option('--input <key=value>', "a form field's value (repeat for several; the value is read as JSON when it is JSON, else as text)", collect)
    .option('--input-json <json>', "the form's values as one JSON object")
    .option('--json', "print the API's HITLDetail object")
    .action(async (dagId: string, runId: string, taskId: string, _o: unknown, cmd: Command) =>
      setExit(await (await h()).tasksRespond(term, dagId, runId, taskId, cmd.optsWithGlobals<TasksRespondOptions>())),
    );
  tasks
    .command('pending')
    .description('list the human-in-the-loop requests on the server waiting for an answer, newest first')
    .option('--dag-id <dagId>', "only this DAG's")
    .option('--run-id <runId>', "only this run's (of --dag-id, or of any DAG)")
    .option('--json', "print a JSON array of the API's HITLDetail objects")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await h()).tasksPending(term, cmd.optsWithGlobals<TasksPendingOptions>())));
}
