import { errorMessage } from '../../errors.ts';
import { defaultAirlessHome } from '../../store/sqlite-store.ts';
import { startStandalone } from '../../standalone/server.ts';
import { loadBag, type GlobalOptions } from '../dag-lookup.ts';
import { displayPath } from '../format.ts';
import type { Terminal } from '../terminal.ts';
import { UsageError } from '../usage-error.ts';
import { stopOnSignal } from '../stop-on-signal.ts';

export interface StandaloneCommandOptions extends GlobalOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** How many of each DAG's newest versions keep their code (`versionsRetained`). Default 10. */
  keepVersions?: number;
}

/**
 * `airless standalone`: the scheduler, the REST API and the web UI in this process, state in the home
 * folder's SQLite database. Prints where it listens (a line `airless standalone: listening on <url>`),
 * the UI's URL with the token, the token, the home folder, the DAGs and import errors; runs until
 * SIGINT/SIGTERM, then stops cleanly and exits 0 (a second signal exits at once; the next start
 * resumes). Exit 2 when another server runs on the same home or the port is taken.
 */
export async function standalone(term: Terminal, o: StandaloneCommandOptions): Promise<number> {
  const home = defaultAirlessHome();
  const bag = await loadBag(term, o, home);
  let server;
  try {
    server = await startStandalone({
      bag,
      home,
      port: o.port ?? 8080,
      host: o.host ?? '127.0.0.1',
      warn: (line) => void term.stderr.write(`${line}\n`),
      ...(o.keepVersions === undefined ? {} : { versionsRetained: o.keepVersions }),
    });
  } catch (e) {
    if (e instanceof Error && e.name === 'StandaloneStartError') throw new UsageError(errorMessage(e));
    throw e;
  }
  const { resumed } = server;
  const lines = [
    `airless standalone: listening on ${server.url}`,
    `  web UI:      ${server.url}/?token=${encodeURIComponent(server.token)}`,
    `  API:         ${server.url}/api/v2 (Authorization: Bearer <token>)`,
    `  token:       ${server.token}`,
    `  home:        ${displayPath(home) || '.'}`,
    `  DAGs:        ${bag.dags.length} from ${displayPath(bag.folder) || '.'} (${server.loop.dagIds.length} scheduled)`,
    `  import errors: ${bag.importErrors.length}${bag.importErrors.length ? ' (airless dags list-import-errors)' : ''}`,
  ];
  if (resumed.runs) lines.push(`  resumed:     ${resumed.runs} run(s) left by the previous server (${resumed.interrupted} interrupted tr${resumed.interrupted === 1 ? 'y' : 'ies'} reported failed)`);
  lines.push('Press Ctrl-C to stop.');
  await term.out(`${lines.join('\n')}\n`);

  return stopOnSignal(term, 'airless standalone', () => server.stop(), ' (the next start resumes the runs)');
}
