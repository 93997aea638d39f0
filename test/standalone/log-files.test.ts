import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogFileWriter, tryLogPath } from '../../lib/standalone/log-files.ts';
import type { LogLine, TiKey } from '../../lib/store/records.ts';

const ROOT = mkdtempSync(path.join(tmpdir(), 'airless-log-files-'));
let homes = 0;
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const KEY: TiKey = { dagId: 'd', runId: 'r1', taskId: 't', mapIndex: -1 };
const line = (message: string): LogLine => ({ time: '2026-01-01T00:00:00.000Z', level: 'info', message });
const messages = (file: string) => readFileSync(file, 'utf8').replace(/\n$/, '').split('\n').map((l) => l.replace(/^.* - /, ''));

/** A writer on a new home that never flushes on its own (the test calls flush). */
function writer() {
  const home = path.join(ROOT, `home${homes++}`);
  const warned: string[] = [];
  const w = new LogFileWriter(home, { flushMs: 3_600_000, warn: (m) => warned.push(m) });
  return { home, w, warned, file: tryLogPath(home, KEY, 1) };
}

describe('LogFileWriter', () => {
  it('reports a failed write when it happens, keeps the lines, and writes them in order once it can', () => {
    const { home, w, warned, file } = writer();
    // The home is a file: no log folder can be made in it (a full disk, a read-only folder, for root too).
    writeFileSync(home, '');
    w.add(KEY, 1, line('a'));
    w.add(KEY, 1, line('b'));
    expect(w.flush()).toBe(2);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain(`cannot write log file ${file}: `);
    expect(warned[0]).toContain('(its lines are kept and written again)');
    w.add(KEY, 1, line('c'));
    expect(w.flush()).toBe(3);
    expect(warned).toHaveLength(1); // the same failure, reported once
    rmSync(home);
    expect(w.flush()).toBe(0);
    expect(messages(file)).toStrictEqual(['a', 'b', 'c']);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(path.dirname(file)).mode & 0o777).toString(8)).toBe('700');
    expect(w.errors).toStrictEqual(warned);
  });

  it('forgets a try once it ended and its lines are written; a late line is appended', () => {
    const { w, file } = writer();
    w.add(KEY, 1, line('a'));
    w.add({ ...KEY, taskId: 'u' }, 2, line('x'));
    expect(w.size).toBe(2);
    w.endTry(KEY, 1);
    expect(w.size).toBe(1);
    expect(messages(file)).toStrictEqual(['a']);
    w.add(KEY, 1, line('late'));
    w.endTry(KEY, 1);
    expect(messages(file)).toStrictEqual(['a', 'late']);
    w.close();
    expect(w.size).toBe(0);
  });

  it("writes a try's lines under its run's DAG (the key names it); at close, says how many could not be written", () => {
    const { home, w, warned, file } = writer();
    // A run of another DAG with the same run id: a file of its own.
    const other: TiKey = { ...KEY, dagId: 'e' };
    w.add(KEY, 1, line('a'));
    w.add(other, 1, line('b'));
    expect(w.flush()).toBe(0);
    expect(messages(file)).toStrictEqual(['a']);
    expect(messages(tryLogPath(home, other, 1))).toStrictEqual(['b']);
    expect(warned).toStrictEqual([]);
    // A DAG whose log folder cannot be made (a file is in its way): its line is kept, and reported lost at close.
    const blocked: TiKey = { ...KEY, dagId: 'f', runId: 'r2' };
    writeFileSync(path.join(home, 'logs', 'dag_id=f'), '');
    w.add(blocked, 1, line('lost'));
    expect(w.flush()).toBe(1);
    w.close();
    expect(warned).toHaveLength(2);
    expect(warned[0]).toContain(`cannot write log file ${tryLogPath(home, blocked, 1)}: `);
    expect(warned[1]).toMatch(/^1 log line\(s\) of try 1 of task 't' of run 'r2' of DAG '[^']+' not written to a file: cannot write log file /);
    expect(w.size).toBe(0);
  });
});
