/** DAG versions: list a DAG's versions, one version with its code's files, one file's source. */
import type { Dag } from '../../authoring/dag.ts';
import type { DagVersionRecord } from '../../store/records.ts';
import type { ApiBackend } from '../backend.ts';
import { HttpError } from '../http-error.ts';
import { findDag } from '../lookup.ts';
import { toDagVersion, toDagVersionDetail } from '../mappers.ts';
import { P, Q, R, responses } from '../schemas.ts';
import type { RouteContext } from './context.ts';

/** The DAG's versions, oldest first, as listed: numbered, with their run counts and the current one marked. */
async function listedVersions(backend: ApiBackend, dag: Dag) {
  const [versions, record, runs] = await Promise.all([backend.store.listDagVersions(dag.dagId), backend.store.getDagRecord(dag.dagId), backend.store.listRuns({ dagId: dag.dagId })]);
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.dagVersion, (counts.get(r.dagVersion) ?? 0) + 1);
  return versions.map((v, i) => ({ record: v, listed: toDagVersion(v, { versionNumber: i + 1, runs: counts.get(v.version) ?? 0, current: record?.version }) }));
}

async function findVersion(backend: ApiBackend, dag: Dag, version: string) {
  const all = await listedVersions(backend, dag);
  const found = all.find((v) => v.record.version === version);
  if (!found) {
    const known = all.map((v) => v.record.version).join(', ') || 'none';
    throw new HttpError(404, `version '${version}' of DAG '${dag.dagId}' not found (versions: ${known})`, 'params.version', { dagId: dag.dagId });
  }
  return found;
}

/** Why a version's code cannot be read, in words. */
function whyNoCode(backend: ApiBackend, v: DagVersionRecord): string {
  if (v.bundle === null) return 'it was built in code, not loaded from a file';
  if (v.prunedAt !== null) return `it was pruned at ${v.prunedAt}`;
  if (!backend.bundles) return 'this server keeps no code';
  return `bundle ${v.bundle.slice(0, 12)} is not kept`;
}

export function dagVersionRoutes({ app, backend }: RouteContext): void {
  const manifestOf = (v: DagVersionRecord) => (v.bundle === null || !backend.bundles ? Promise.resolve(undefined) : backend.bundles.manifest(v.bundle));

  app.get<{ Params: { dag_id: string } }>(
    '/api/v2/dags/:dag_id/dagVersions',
    {
      schema: {
        summary: "List a DAG's versions",
        description: 'Every version of the DAG ever registered, oldest first, with the number of its runs on each.',
        tags: ['DagVersion'],
        operationId: 'get_dag_versions',
        params: P.dag,
        response: responses(R.dagVersions),
      },
    },
    async (request) => {
      const versions = await listedVersions(backend, findDag(backend, request.params.dag_id));
      return { dag_versions: versions.map((v) => v.listed), total_entries: versions.length };
    },
  );

  app.get<{ Params: { dag_id: string; version: string } }>(
    '/api/v2/dags/:dag_id/dagVersions/:version',
    {
      schema: {
        summary: 'Get a DAG version',
        description: "The version and its code's manifest (files, entry, packages); `files` is null when its code is not available.",
        tags: ['DagVersion'],
        operationId: 'get_dag_version',
        params: P.dagVersion,
        response: responses(R.dagVersion),
      },
    },
    async (request) => {
      const v = await findVersion(backend, findDag(backend, request.params.dag_id), request.params.version);
      return toDagVersionDetail(v.listed, await manifestOf(v.record));
    },
  );

  app.get<{ Params: { dag_id: string; version: string }; Querystring: { path: string } }>(
    '/api/v2/dags/:dag_id/dagVersions/:version/source',
    {
      schema: {
        summary: "A file of a DAG version's code",
        description: "One file of the version's code, as UTF-8 text; 404 when the version's code is not available or it holds no such file.",
        tags: ['DagVersion'],
        operationId: 'get_dag_version_source',
        params: P.dagVersion,
        querystring: Q.versionSource,
        response: responses(R.versionSource),
      },
    },
    async (request) => {
      const dag = findDag(backend, request.params.dag_id);
      const { record: v } = await findVersion(backend, dag, request.params.version);
      const file = request.query.path;
      const manifest = await manifestOf(v);
      if (!manifest || v.bundle === null || !backend.bundles) {
        throw new HttpError(404, `the code of version '${v.version}' of DAG '${dag.dagId}' is not available: ${whyNoCode(backend, v)}`, 'params.version', { dagId: dag.dagId });
      }
      const bytes = manifest.files.some((f) => f.path === file) ? await backend.bundles.readFile(v.bundle, file) : undefined;
      if (bytes === undefined) {
        throw new HttpError(404, `file '${file}' not found in version '${v.version}' of DAG '${dag.dagId}' (files: ${manifest.files.map((f) => f.path).join(', ')})`, 'query.path', { dagId: dag.dagId });
      }
      return { path: file, content: bytes.toString('utf8') };
    },
  );
}
