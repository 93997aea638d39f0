import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of airless's own package.json, found once. */
let root: string | undefined;

/**
 * The root folder of the airless package this module belongs to: the first folder above it whose
 * package.json is named `airless`. The same in the repository (`lib/…` next to package.json) and in the
 * installed package (`dist/lib/…` one level deeper), so files shipped beside the code (`ui/dist`,
 * `templates`, package.json itself) are found from either.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'airless') return (root = dir);
      } catch {
        // not a readable package.json: keep looking above
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`the airless package's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** airless's own package.json (name, version, the ranges of its dependencies). */
export function packageJson(): { name: string; version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; peerDependencies?: Record<string, string>; engines?: Record<string, string> } {
  return JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as ReturnType<typeof packageJson>;
}
