/** DAG versions as the pages show them: short ids, links, and the per-file comparison of two versions. */
import type { DagVersion, VersionFile } from './api.ts';

/** How many characters of a version id the UI shows. */
export const SHORT_VERSION = 8;

export function shortVersion(version: string): string {
  return version.slice(0, SHORT_VERSION);
}

/** `v3 · 1a2b3c4d` (the number when the version is known in the list, else the short id alone). */
export function versionLabel(version: string, versions: readonly DagVersion[] | undefined): string {
  const n = versions?.find((v) => v.version === version)?.version_number;
  return n === undefined ? shortVersion(version) : `v${n} · ${shortVersion(version)}`;
}

export function versionsPath(dagId: string): string {
  return `/dags/${encodeURIComponent(dagId)}/versions`;
}

/** The code view of a version (its DAG file shown unless `file` names another). */
export function codePath(dagId: string, version: string, file?: string): string {
  return `${versionsPath(dagId)}/${encodeURIComponent(version)}${file === undefined ? '' : `?file=${encodeURIComponent(file)}`}`;
}

export function diffPath(dagId: string, from: string, to: string): string {
  return `${versionsPath(dagId)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
}

/** How a file differs between two versions. */
export type FileChange = 'added' | 'removed' | 'changed' | 'unchanged';

export interface FileComparison {
  path: string;
  change: FileChange;
  from: VersionFile | undefined;
  to: VersionFile | undefined;
}

/** Every file of either version, by path, with how it changed from `from` to `to` (by content hash). */
export function compareFiles(from: readonly VersionFile[], to: readonly VersionFile[]): FileComparison[] {
  const a = new Map(from.map((f) => [f.path, f]));
  const b = new Map(to.map((f) => [f.path, f]));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.map((path) => {
    const f = a.get(path);
    const t = b.get(path);
    const change: FileChange = f === undefined ? 'added' : t === undefined ? 'removed' : f.sha256 === t.sha256 ? 'unchanged' : 'changed';
    return { path, change, from: f, to: t };
  });
}
