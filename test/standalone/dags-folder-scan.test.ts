import type * as nodeFs from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Folders the scan may not read: readdir fails there as it does for a folder without read permission
// (which root, as tests may run, could read anyway).
const denied = vi.hoisted(() => new Set<string>());
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof nodeFs>();
  const readdirSync = ((p: string, o?: unknown) => {
    if (denied.has(String(p))) throw Object.assign(new Error(`EACCES: permission denied, scandir '${String(p)}'`), { code: 'EACCES', syscall: 'scandir', path: String(p) });
    return (fs.readdirSync as (p: string, o?: unknown) => unknown)(p, o);
  }) as typeof fs.readdirSync;
  return { ...fs, readdirSync, default: { ...fs, readdirSync } };
});

const { scanDagsFolder } = await import('../../lib/dagbag/scan.ts');

const ROOT = mkdtempSync(path.join(tmpdir(), 'airless-scan-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

describe('scanning the DAGs folder', () => {
  it('a sub-folder that cannot be read is an import error naming it and the OS error; the rest is scanned', () => {
    const folder = path.join(ROOT, 'dags');
    mkdirSync(path.join(folder, 'team', 'private'), { recursive: true });
    writeFileSync(path.join(folder, 'a.ts'), '');
    writeFileSync(path.join(folder, 'team', 'b.ts'), '');
    writeFileSync(path.join(folder, 'team', 'private', 'c.ts'), '');
    denied.add(path.join(folder, 'team', 'private'));
    const scan = scanDagsFolder(folder);
    expect(scan.files).toStrictEqual(['a.ts', 'team/b.ts']);
    expect(scan.errors).toStrictEqual([
      {
        file: 'team/private',
        error: `file team/private: cannot read this folder (the DAG files in it are not loaded): EACCES: permission denied, scandir '${path.join(folder, 'team', 'private')}'`,
      },
    ]);
  });

  it('the DAGs folder itself unreadable: one import error for it (".")', () => {
    const folder = path.join(ROOT, 'closed');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.ts'), '');
    denied.add(folder);
    expect(scanDagsFolder(folder)).toStrictEqual({
      files: [],
      errors: [{ file: '.', error: `file .: cannot read this folder (the DAG files in it are not loaded): EACCES: permission denied, scandir '${folder}'` }],
    });
  });

  it('a link that cannot be followed (a loop) is an import error; a dangling one is skipped', () => {
    const folder = path.join(ROOT, 'links');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.ts'), '');
    symlinkSync('loop', path.join(folder, 'loop'));
    symlinkSync('nowhere', path.join(folder, 'gone.ts'));
    const scan = scanDagsFolder(folder);
    expect(scan.files).toStrictEqual(['a.ts']);
    expect(scan.errors.map((e) => e.file)).toStrictEqual(['loop']);
    expect(scan.errors[0]!.error).toMatch(/^file loop: cannot follow this link \(what it points to is not loaded\): ELOOP: /);
  });
});
