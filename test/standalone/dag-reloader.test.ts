import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import { DagBag } from '../../lib/dagbag/dag-bag.ts';
import { FakeClock } from '../../lib/runner/clock.ts';
import { DagReloader, VersionedDags } from '../../lib/standalone/dag-reloader.ts';
import { ScheduleLoop } from '../../lib/standalone/schedule-loop.ts';
import { fakeRunner } from '../helpers.ts';

const v1 = dag({ dagId: 'x' }, () => {
  task('one', () => 1);
});
const v2 = dag({ dagId: 'x' }, () => {
  task('one', () => 1);
  task('two', () => 2);
});
const y = dag({ dagId: 'y' }, () => {
  task('t', () => 0);
});

describe('VersionedDags', () => {
  it('serves the latest bag, and a version it has loaded when asked for it', () => {
    const dags = new VersionedDags(new DagBag('/dags', [v1, y], []));
    const changes = dags.swap(new DagBag('/dags', [v2], [{ file: 'broken.ts', error: 'file broken.ts: SyntaxError' }]));
    expect(changes).toEqual([
      { kind: 'changed', dagId: 'x', from: v1.spec.version, to: v2.spec.version },
      { kind: 'removed', dagId: 'y' },
    ]);
    expect(dags.dagIds).toEqual(['x']);
    expect(dags.importErrors).toHaveLength(1);
    expect(dags.getDag('x')).toBe(v2);
    expect(dags.getDag('x', v1.spec.version)).toBe(v1);
    expect(dags.getDag('x', 'unknown')).toBe(v2);
    // A removed DAG's runs under way still find their version; nothing else finds it.
    expect(dags.getDag('y', y.spec.version)).toBe(y);
    expect(dags.getDag('y')).toBeUndefined();
    expect(dags.versionsOf('x')).toEqual([v1.spec.version, v2.spec.version]);
  });
});

describe('DagReloader', () => {
  it('reports a reload that fails (the folder is gone) and keeps the DAGs it had', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'airless-reloader-'));
    rmSync(folder, { recursive: true });
    const dags = new VersionedDags(new DagBag(folder, [v1], []));
    const runner = fakeRunner([v1]);
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const loop = new ScheduleLoop({ store: runner.store, dags: dags.dags, clock, trigger: (req) => runner.trigger(req) });
    const lines: string[] = [];
    const reloader = new DagReloader({ dags, store: runner.store, loop, now: () => clock.now(), warn: (l) => lines.push(l) });
    await reloader.reload(['x.ts']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^airless standalone: reloading .*airless-reloader-.* failed: .*; the DAGs loaded before are kept$/);
    expect(dags.dags).toEqual([v1]);
    await reloader.stop();
    await loop.stop();
  });
});
