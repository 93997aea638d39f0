import { FakeClock } from '../lib/runner/clock.ts';
import { LocalRunner, type LocalRunnerOptions, type RunReport } from '../lib/runner/local-runner.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import type { ErrorInfo } from '../lib/error-info.ts';
import { errorNote } from '../lib/store/records.ts';
import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { SqliteStateStore } from '../lib/store/sqlite-store.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { afterAll } from 'vitest';

/**
 * The local stores, for `describe.each`: a new memory store, or a new private in-memory SQLite store (closed
 * after the file's tests).
 */
export function localStores(): [string, () => StateStore][] {
  const sqlite: SqliteStateStore[] = [];
  afterAll(() => {
    for (const s of sqlite) s.close();
  });
  return [
    ['memory store', () => new MemoryStateStore()],
    [
      'SQLite store',
      () => {
        const s = new SqliteStateStore({ path: ':memory:' });
        sqlite.push(s);
        return s;
      },
    ],
  ];
}

/** A runner on a time-skipping fake clock, with generous pools unless told otherwise. */
export function fakeRunner(dags: Dag[], options: Partial<LocalRunnerOptions> = {}): LocalRunner & { clock: FakeClock } {
  return new LocalRunner({
    dags,
    clock: new FakeClock(Date.UTC(2026, 0, 1)),
    pools: { default_pool: 1_000_000, ...(options.pools ?? {}) },
    ...options,
  }) as LocalRunner & { clock: FakeClock };
}

/** State of each task instance by "taskId" or "taskId[i]". */
export function states(r: RunReport): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const t of r.tasks) out[t.mapIndex === null ? t.taskId : `${t.taskId}[${t.mapIndex}]`] = t.state;
  return out;
}

export function tries(r: RunReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of r.tasks) out[t.mapIndex === null ? t.taskId : `${t.taskId}[${t.mapIndex}]`] = t.tryNumber;
  return out;
}

/** A stored error as the one line it was stored as before errors were structured ("Name: message", a skip's reason). */
export function errorText(e: ErrorInfo | null | undefined): string | null | undefined {
  return e === undefined ? undefined : errorNote(e);
}
