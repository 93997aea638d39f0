import { palette, useColor } from '../ansi.ts';
import { connect, findTarget, isTarget, ok, START_HINT, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { tableTime } from './dags-list-runs.ts';

export interface VersionsOptions extends RemoteOptions {
  /** Print the API's list of DagVersion objects (`{ dag_versions, total_entries }`) as JSON. Default false. */
  json?: boolean;
}

/** How many characters of a bundle hash the table shows. */
export const BUNDLE_CHARS = 12;

/** Whether a version's code is kept ('kept'), was pruned ('pruned'), or never was (a DAG built in code: 'none'). */
export function codeState(v: Schemas['DagVersion']): 'kept' | 'pruned' | 'none' {
  if (v.pruned_at !== null) return 'pruned';
  return v.bundle === null ? 'none' : 'kept';
}

export const VERSION_HEADERS = ['#', 'version', 'first_seen', 'runs', 'bundle', 'file', 'code', 'current'];

/** Rows of a DagVersion table: oldest first, the current version marked with '*'. */
export function versionRows(versions: readonly Schemas['DagVersion'][], color: boolean): string[][] {
  const p = palette(color);
  return versions.map((v) => {
    const code = codeState(v);
    return [
      `${v.version_number}`,
      v.is_current ? p.bold(v.version) : v.version,
      tableTime(v.created_at),
      `${v.runs}`,
      v.bundle === null ? '-' : v.bundle.slice(0, BUNDLE_CHARS),
      v.fileloc ?? '-',
      code === 'kept' ? p.green(code) : code === 'pruned' ? p.grey(code) : code,
      v.is_current ? p.bold('*') : '',
    ];
  });
}

/**
 * `airless dags versions <dagId>`: the DAG's versions on the server, oldest first: when each was first
 * seen, its runs, its code's bundle and whether it is still kept, and the current one. The versions are
 * kept in a server's store (the standalone's, or a deployed stack's), so a server is needed.
 */
export async function dagsVersions(term: Terminal, dagId: string, o: VersionsOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const target = await findTarget(o);
  if (!isTarget(target)) {
    throw new UsageError(`a DAG's versions are kept in a server's store (the standalone's, or a deployed stack's), and there is no airless server to ask: ${target.tried}; ${START_HINT}`);
  }
  const remote = connect(target);
  const list = await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagVersions', { params: { path: { dag_id: dagId } } }));
  if (o.json) {
    await term.out(`${JSON.stringify(list)}\n`);
  } else if (!list.dag_versions.length) {
    await term.out(`No versions of DAG '${dagId}' recorded yet\n`);
  } else {
    await term.out(`${renderTable(VERSION_HEADERS, versionRows(list.dag_versions, useColor(term.stdout)), { alignRight: [0, 3] })}\n`);
  }
  return EXIT.ok;
}
