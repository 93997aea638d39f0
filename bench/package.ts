// The package benchmark (`npm run -s bench -- --only package`): what `npm pack` ships (tarball bytes,
// unpacked bytes, files, by top folder), after a build, and how fast the packed CLI starts from the
// package's own compiled code (`airless --version`, median of 10, this Node).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface PackageScenario {
  name: 'package';
  filename: string;
  tarballBytes: number;
  unpackedBytes: number;
  files: number;
  /** Unpacked bytes and files by first path segment (dist/lib, dist/cdk, ui, templates, ...). */
  byFolder: { folder: string; bytes: number; files: number }[];
  /** Median ms of `node bin/airless.js --version` (the compiled CLI), 10 runs. */
  versionMedianMs: number;
}

export function runPackageScenario(): PackageScenario {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [info] = JSON.parse(out.slice(out.search(/^\[$/m))) as [{ filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }];
  const folders = new Map<string, { bytes: number; files: number }>();
  for (const f of info.files) {
    const parts = f.path.split('/');
    const folder = parts.length === 1 ? '(top)' : parts[0] === 'dist' && parts.length > 2 ? `dist/${parts[1]}` : parts[0]!;
    const e = folders.get(folder) ?? { bytes: 0, files: 0 };
    e.bytes += f.size;
    e.files += 1;
    folders.set(folder, e);
  }
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['bin/airless.js', '--version'], { cwd: ROOT, stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    name: 'package',
    filename: info.filename,
    tarballBytes: info.size,
    unpackedBytes: info.unpackedSize,
    files: info.files.length,
    byFolder: [...folders].map(([folder, e]) => ({ folder, ...e })).sort((a, b) => b.bytes - a.bytes),
    versionMedianMs: (times[4]! + times[5]!) / 2,
  };
}

export function packageTable(p: PackageScenario): string {
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
  const lines = ['', `the npm package (${p.filename}): tarball ${kb(p.tarballBytes)}, unpacked ${kb(p.unpackedBytes)}, ${p.files} files`];
  for (const f of p.byFolder) lines.push(`  ${f.folder.padEnd(16)} ${kb(f.bytes).padStart(9)} ${String(f.files).padStart(5)} files`);
  lines.push(`  airless --version (the compiled CLI): median ${p.versionMedianMs.toFixed(0)} ms of 10`);
  return `${lines.join('\n')}\n`;
}
