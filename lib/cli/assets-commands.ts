/** The `assets` command group (registered by program.ts); each command's module is loaded when it runs. */
import { type Command, InvalidArgumentError } from 'commander';
import type { AssetEventsOptions, AssetsOptions, CreateEventOptions, MaterializeOptions } from './commands/assets.ts';
import type { Terminal } from './terminal.ts';

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new InvalidArgumentError('expected an integer from 1 to 1000.');
  return Number(value);
}

export function registerAssetsCommands(program: Command, term: Terminal, setExit: (code: number) => void): void {
  const a = () => import('./commands/assets.ts');
  const assets = program.command('assets').description("assets on the server: what the DAGs' schedules and outlets name, their events, materializing them");
  const ASSET = ['<asset>', "the asset's uri (s3://bucket/key) or id (16 hex characters, as `assets list` shows)"] as const;
  assets
    .command('list')
    .description('list the assets: id, uri, group, producing tasks, consuming DAGs, last event')
    .option('--uri-pattern <pattern>', "only uris containing this ('%' any text, '_' one character, any case)")
    .option('--dag-id <dagId>', 'only assets this DAG consumes or produces')
    .option('--json', "print a JSON array of the API's Asset objects")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await a()).assetsList(term, cmd.optsWithGlobals<AssetsOptions>())));
  assets
    .command('events')
    .description('list asset events, newest first: time, asset, source (task, API, watcher), extra, the runs each started')
    .argument('[asset]', "only this asset's events: its uri or id")
    .option('--dag-id <dagId>', 'only events the tasks of this DAG recorded')
    .option('--run-id <runId>', 'only events the tasks of this run recorded')
    .option('--task-id <taskId>', 'only events this task recorded')
    .option('--limit <n>', 'at most this many events (default 100)', parseLimit)
    .option('--json', "print a JSON array of the API's AssetEvent objects")
    .action(async (asset: string | undefined, _o: unknown, cmd: Command) => setExit(await (await a()).assetsEvents(term, asset, cmd.optsWithGlobals<AssetEventsOptions>())));
  assets
    .command('materialize')
    .description('trigger a run of the DAG that produces the asset (--wait: follow it and exit 0 if it succeeded, 1 if it failed)')
    .argument(...ASSET)
    .option('--wait', 'follow the run until it ends and exit with its outcome')
    .option('--json', "print the API's DAGRun object (with --wait, the finished run)")
    .action(async (asset: string, _o: unknown, cmd: Command) => setExit(await (await a()).assetsMaterialize(term, asset, cmd.optsWithGlobals<MaterializeOptions>())));
  assets
    .command('create-event')
    .description('record an event of the asset (as a producing task would): the DAGs scheduled on it whose condition it completes start a run')
    .argument(...ASSET)
    .option('--extra <json>', "the event's extra: a JSON object")
    .option('--dedupe-key <key>', 'an event created again with this key records nothing more (default: a new event each time)')
    .option('--json', "print the API's AssetEvent object")
    .action(async (asset: string, _o: unknown, cmd: Command) => setExit(await (await a()).assetsCreateEvent(term, asset, cmd.optsWithGlobals<CreateEventOptions>())));
}
