/** The `variables` and `connections` command groups (registered by program.ts). */
import type { Command } from 'commander';
import type { ConnectionsOptions } from './commands/connections.ts';
import type { VariablesOptions } from './commands/variables.ts';
import type { Terminal } from './terminal.ts';

export function registerSecretsCommands(program: Command, term: Terminal, setExit: (code: number) => void): void {
  const v = () => import('./commands/variables.ts');
  const opts = (cmd: Command) => cmd.optsWithGlobals<VariablesOptions>();
  const variables = program.command('variables').description("the server's variables (sensitive values show as ***)");
  variables
    .command('list')
    .description('list the variables: key, value, description')
    .option('--json', "print the API's Variable objects")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await v()).variablesList(term, opts(cmd))));
  variables
    .command('get')
    .description("print a variable's value")
    .argument('<key>')
    .option('--json', 'parse the value as JSON and print it as JSON')
    .option('--default <value>', 'print this when the variable does not exist')
    .action(async (key: string, _o: unknown, cmd: Command) => setExit(await (await v()).variablesGet(term, key, opts(cmd))));
  variables
    .command('set')
    .description('create a variable, or change its value')
    .argument('<key>')
    .argument('<value>')
    .option('--description <text>', "the variable's description")
    .action(async (key: string, value: string, _o: unknown, cmd: Command) => setExit(await (await v()).variablesSet(term, key, value, opts(cmd))));
  variables
    .command('delete')
    .description('delete a variable')
    .argument('<key>')
    .action(async (key: string, _o: unknown, cmd: Command) => setExit(await (await v()).variablesDelete(term, key, opts(cmd))));
  variables
    .command('import')
    .description('create or update the variables of a JSON file: { "key": value, ... }')
    .argument('<file>')
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await v()).variablesImport(term, file, opts(cmd))));
  variables
    .command('export')
    .description('write every variable to a JSON file: { "key": value, ... }')
    .argument('<file>')
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await v()).variablesExport(term, file, opts(cmd))));

  const c = () => import('./commands/connections.ts');
  const copts = (cmd: Command) => cmd.optsWithGlobals<ConnectionsOptions>();
  const connections = program.command('connections').description("the server's connections (passwords show as ***)");
  connections
    .command('list')
    .description('list the connections')
    .option('--json', "print the API's Connection objects")
    .action(async (_o: unknown, cmd: Command) => setExit(await (await c()).connectionsList(term, copts(cmd))));
  connections
    .command('get')
    .description("print a connection's fields")
    .argument('<connId>')
    .option('--json', "print the API's Connection object")
    .action(async (id: string, _o: unknown, cmd: Command) => setExit(await (await c()).connectionsGet(term, id, copts(cmd))));
  connections
    .command('set')
    .description('create a connection, or replace its fields: --conn-uri URI, or --conn-type and the other --conn-* fields')
    .argument('<connId>')
    .option('--conn-uri <uri>', "the connection as Airflow's URI: postgres://user:pass@host:5432/db?param=x")
    .option('--conn-type <type>', 'the connection type (postgres, http, aws...)')
    .option('--conn-host <host>', 'the host')
    .option('--conn-login <login>', 'the login')
    .option('--conn-password <password>', 'the password')
    .option('--conn-schema <schema>', 'the schema (database)')
    .option('--conn-port <port>', 'the port')
    .option('--conn-extra <json>', 'the extra, a JSON object')
    .option('--conn-description <text>', 'the description')
    .action(async (id: string, _o: unknown, cmd: Command) => setExit(await (await c()).connectionsSet(term, id, copts(cmd))));
  connections
    .command('delete')
    .description('delete a connection')
    .argument('<connId>')
    .action(async (id: string, _o: unknown, cmd: Command) => setExit(await (await c()).connectionsDelete(term, id, copts(cmd))));
  connections
    .command('import')
    .description('create or update the connections of a JSON file: { "conn_id": { "conn_type": ..., ... } or "URI" }')
    .argument('<file>')
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await c()).connectionsImport(term, file, copts(cmd))));
  connections
    .command('export')
    .description('write every connection to a JSON file (passwords as ***)')
    .argument('<file>')
    .action(async (file: string, _o: unknown, cmd: Command) => setExit(await (await c()).connectionsExport(term, file, copts(cmd))));
}
