import { describe, expect, it } from 'vitest';
import { dag, empty, LocalRunner, sensor, task, taskGroup, branch } from '../lib/index.ts';
import { palette, stripAnsi } from '../lib/cli/ansi.ts';
import { formatDuration, formatIndexes } from '../lib/cli/format.ts';
import { LiveView } from '../lib/cli/live-view.ts';
import { dagToMermaid } from '../lib/cli/mermaid.ts';
import { RunTracker } from '../lib/cli/run-tracker.ts';
import { summaryRows } from '../lib/cli/run-summary.ts';
import { stateChangeLine } from '../lib/cli/state-lines.ts';
import { renderTable } from '../lib/cli/table.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';

const plain = palette(false);

describe('dags show: Mermaid', () => {
  it('makes ids Mermaid-safe and unique, nests groups, shapes nodes by kind and marks mapped tasks', () => {
    const d = dag({ dagId: 'shapes' }, () => {
      const pick = branch('pick', () => 'a.b');
      const ab = task('a.b', () => [1, 2]);
      const a_b = task('a_b', () => 1);
      pick.before(ab, a_b);
      taskGroup('outer', () => {
        const wait = sensor('wait-for-file', () => true, { pokeInterval: '1s' });
        taskGroup('inner', () => {
          task('solve', (_ctx, x: number) => x).expand(ab).after(wait);
        });
      });
      // 'end' is a Mermaid keyword: the t_ prefix keeps it a plain node id.
      empty('end').after(a_b);
    });
    expect(dagToMermaid(d.spec)).toBe(
      [
        'flowchart LR',
        '  subgraph g_outer ["outer"]',
        '    subgraph g_outer_inner ["outer.inner"]',
        '      t_outer_inner_solve["outer.inner.solve [ ]"]',
        '    end',
        '    t_outer_wait_for_file(["outer.wait-for-file"])',
        '  end',
        '  t_pick{"pick"}',
        '  t_a_b["a.b"]',
        '  t_a_b_2["a_b"]',
        '  t_end("end")',
        '  t_pick --> t_a_b',
        '  t_pick --> t_a_b_2',
        '  t_a_b --> t_outer_inner_solve',
        '  t_a_b_2 --> t_end',
        '  t_outer_wait_for_file --> t_outer_inner_solve',
        '',
      ].join('\n'),
    );
  });
});

function ti(taskId: string, mapIndex: number, state: TaskInstanceRecord['state'], tryNumber: number, durationMs: number | null): TaskInstanceRecord {
  return {
    runId: 'r', dagId: 'd', taskId, mapIndex, state, tryNumber, maxTries: 3, queuedAt: null, startDate: null, endDate: null,
    nextAt: null, firstPokeAt: null, pokeCount: 0, durationMs, error: null, externalId: null, resume: false,
  };
}

describe('summary rows and tables', () => {
  it('groups the instances of a mapped task by state, with their indexes as ranges', () => {
    const rows = summaryRows(
      ['list', 'solve', 'collect', 'never'],
      [
        ti('list', -1, 'success', 1, 1500),
        ...[0, 1, 2, 3, 7, 9, 10].map((i) => ti('solve', i, 'success', i === 7 ? 2 : 1, 20 + i)),
        ti('solve', 4, 'failed', 3, 5),
        ti('solve', 5, 'failed', 3, 5),
        ti('collect', -1, 'upstream_failed', 0, 0),
      ],
    );
    expect(rows).toStrictEqual([
      { taskId: 'list', mapIndexes: '', state: 'success', tries: '1', duration: '1.50s' },
      { taskId: 'solve', mapIndexes: '0-3,7,9-10', state: 'success', tries: '1-2', duration: '20ms-30ms' },
      { taskId: 'solve', mapIndexes: '4-5', state: 'failed', tries: '3', duration: '5ms' },
      { taskId: 'collect', mapIndexes: '', state: 'upstream_failed', tries: '0', duration: '-' },
      { taskId: 'never', mapIndexes: '', state: null, tries: '0', duration: '-' },
    ]);
  });

  it('formats indexes, durations and tables', () => {
    expect(formatIndexes([10, 9, 7, 3, 2, 1, 0, 0])).toBe('0-3,7,9-10');
    expect([0, 999, 1234, 61_000, 3_720_000].map(formatDuration)).toStrictEqual(['0ms', '999ms', '1.23s', '1m01s', '1h02m']);
    expect(renderTable(['task', 'tries'], [['a', '1'], ['longer', '12']], { alignRight: [1] })).toBe(
      ['task    tries', '------  -----', 'a           1', 'longer     12'].join('\n'),
    );
  });

  it('a state-change line says the DAG, the instance, the state, the try and the error', () => {
    const run = { dagId: 'd', runId: 'r', state: 'running' as const, parent: null, startDate: null, endDate: null, tis: new Map(), lastLog: new Map() };
    const failed = { ...ti('solve', 4, 'up_for_retry', 1, 5), error: { name: 'Error', message: 'boom\n    at x' } };
    expect(stateChangeLine({ kind: 'ti', run, ti: failed, previous: undefined }, plain, new Date(2026, 0, 1, 12, 0, 1, 250).getTime())).toBe(
      '12:00:01.250  d  solve[4]  up_for_retry  try 1/3  Error: boom',
    );
  });

  it("a state-change line shows an error's name apart from its message (bold), and a skip's reason alone", () => {
    const run = { dagId: 'd', runId: 'r', state: 'running' as const, parent: null, startDate: null, endDate: null, tis: new Map(), lastLog: new Map() };
    const when = new Date(2026, 0, 1, 12, 0, 1, 250).getTime();
    const failed = { ...ti('solve', -1, 'failed', 3, 5), error: { name: 'TaskTimeoutError', message: 'execution timeout: the try ran longer than 60 s' } };
    const colour = palette(true);
    expect(stateChangeLine({ kind: 'ti', run, ti: failed, previous: undefined }, colour, when)).toContain(
      `${colour.red(`${colour.bold('TaskTimeoutError')}: execution timeout: the try ran longer than 60 s`)}`,
    );
    const skipped = { ...ti('report', -1, 'skipped', 0, 5), error: { name: 'SkipTask', message: "not chosen by branch 'pick'" } };
    expect(stateChangeLine({ kind: 'ti', run, ti: skipped, previous: undefined }, plain, when)).toBe("12:00:01.250  d  report  skipped  not chosen by branch 'pick'");
  });
});

class FakeTty {
  isTTY = true;
  columns = 80;
  rows = 30;
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('the live view', () => {
  it('ends with one line per task, the mapped instances counted by state', async () => {
    const d = dag({ dagId: 'live' }, () => {
      const list = task('list', () => [1, 2, 3]);
      const each = task('each', (_ctx, x: number) => {
        if (x === 2) throw new Error('two');
        return x;
      }).expand(list);
      task('after', () => null).after(each);
    });
    const runner = new LocalRunner({ dags: [d] });
    const tracker = new RunTracker();
    const out = new FakeTty();
    const view = new LiveView(tracker, runner.scheduler.dags, out as unknown as NodeJS.WriteStream, plain);
    runner.on((e) => {
      tracker.handle(e);
      view.changed();
    });
    view.start();
    const report = await runner.run({ dagId: 'live' });
    view.stop();
    const frame = view.frame();
    expect(frame).toHaveLength(4);
    expect(frame[0]).toMatch(new RegExp(`^✗ live  failed  \\d+ms  ${report.runId}$`));
    expect(frame[1]).toMatch(/^ {2}✓ list {8}success {10}try 1\/1  \d+ms$/);
    expect(frame[2]).toBe('  ✗ each [3]    ✓2 success  ✗1 failed');
    expect(frame[3]).toBe('  ✗ after       upstream_failed');
    // What was drawn: the same lines, redrawn in place (cursor up, clear below), the cursor shown again.
    expect(out.text.startsWith('\x1b[?25l')).toBe(true);
    expect(out.text.endsWith('\x1b[0J\x1b[?25h')).toBe(true);
    expect(stripAnsi(out.text)).toContain(frame.map((l) => `${l}\n`).join(''));
  });
});
