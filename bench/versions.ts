// The versions benchmark (`npm run -s bench -- --only versions`): what keeping a DAG version costs, for
// the example DAGs of dags/: the files of each DAG file's bundle, their bytes, the bytes a version takes
// in a home's bundle store, how long collecting a bundle takes (esbuild following the imports, then
// hashing), and how long a version takes to load from its kept bundle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBundleStore } from '../lib/dagbag/bundle-store.ts';
import { collectBundle } from '../lib/dagbag/bundle.ts';
import { scanDagsFolder } from '../lib/dagbag/scan.ts';
import { importSnapshot } from '../lib/dagbag/snapshot-import.ts';

export interface VersionFileFigures {
  file: string;
  /** Local files in its bundle (the DAG file included). */
  files: number;
  /** Their bytes. */
  sourceBytes: number;
  /** Bytes the version takes in a bundle store (sources, manifest, package.json). */
  keptBytes: number;
  packages: number;
  /** Median ms to collect its bundle (esbuild's graph, reads and hashes), warm. */
  collectMs: number;
  /** ms to import its kept bundle (a version loaded after a restart), first import. */
  loadMs: number;
}

export interface VersionsScenario {
  name: 'versions';
  files: VersionFileFigures[];
  /** Median bytes a version takes in the store, over the example files. */
  medianKeptBytes: number;
  /** Bytes of all the examples' versions together (one version of each file). */
  totalKeptBytes: number;
  /** ms to collect the bundles of the whole folder, one after the other (what a load of the folder adds). */
  folderCollectMs: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function runVersionsScenario(): Promise<VersionsScenario> {
  const folder = fileURLToPath(new URL('../dags/', import.meta.url));
  const home = mkdtempSync(path.join(tmpdir(), 'airless-bench-versions-'));
  try {
    const store = new LocalBundleStore(path.join(home, 'bundles'));
    const { files } = scanDagsFolder(folder);
    // One pass to warm esbuild's service.
    await collectBundle(path.join(folder, files[0]!), folder);
    const out: VersionFileFigures[] = [];
    const t0 = performance.now();
    for (const f of files) await collectBundle(path.join(folder, f), folder);
    const folderCollectMs = performance.now() - t0;
    for (const f of files) {
      const abs = path.join(folder, f);
      const times: number[] = [];
      let b = await collectBundle(abs, folder);
      for (let i = 0; i < 7; i++) {
        const s = performance.now();
        b = await collectBundle(abs, folder);
        times.push(performance.now() - s);
      }
      store.put(b, new Date().toISOString());
      const s = performance.now();
      await importSnapshot(store.entryUrl(b.manifest.hash)!, b.manifest.hash);
      const loadMs = performance.now() - s;
      out.push({
        file: f,
        files: b.manifest.files.length,
        sourceBytes: b.manifest.files.reduce((n, x) => n + x.bytes, 0),
        keptBytes: store.bytes(b.manifest.hash),
        packages: Object.keys(b.manifest.packages).length,
        collectMs: median(times),
        loadMs,
      });
    }
    return {
      name: 'versions',
      files: out,
      medianKeptBytes: median(out.map((f) => f.keptBytes)),
      totalKeptBytes: out.reduce((n, f) => n + f.keptBytes, 0),
      folderCollectMs,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The figures as the bench prints them. */
export function versionsTable(v: VersionsScenario): string {
  const fmt = (n: number, d = 1) => n.toFixed(d);
  const lines = ['', 'DAG versions (the examples of dags/; one version of each file kept in a bundle store):'];
  lines.push(`  ${'file'.padEnd(26)} ${'files'.padStart(5)} ${'source B'.padStart(9)} ${'kept B'.padStart(8)} ${'pkgs'.padStart(4)} ${'collect ms'.padStart(10)} ${'load ms'.padStart(8)}`);
  for (const f of v.files) {
    lines.push(`  ${f.file.padEnd(26)} ${String(f.files).padStart(5)} ${String(f.sourceBytes).padStart(9)} ${String(f.keptBytes).padStart(8)} ${String(f.packages).padStart(4)} ${fmt(f.collectMs, 2).padStart(10)} ${fmt(f.loadMs).padStart(8)}`);
  }
  lines.push(`  median kept per version ${v.medianKeptBytes} B; all ${v.files.length} files ${v.totalKeptBytes} B; collecting the folder's bundles ${fmt(v.folderCollectMs)} ms`);
  return `${lines.join('\n')}\n`;
}
