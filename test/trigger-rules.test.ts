import { describe, expect, it } from 'vitest';
import { emptyCounts, evaluateTriggerRule, type RuleVerdict, type UpstreamCounts } from '../lib/core/trigger-rules.ts';
import { TRIGGER_RULES, type TriggerRule } from '../lib/model/states.ts';

type Up = 'success' | 'failed' | 'skipped' | 'upstream_failed' | 'running';

/**
 * Airflow's documented semantics, written from the trigger-rule table of its docs (and the states its
 * scheduler settles on: a task that can never run becomes skipped or upstream_failed at once), as an
 * oracle independent of the implementation: it looks at the list of upstream states, not at counters.
 */
function oracle(rule: TriggerRule, ups: Up[]): RuleVerdict {
  const any = (...s: Up[]) => ups.some((u) => s.includes(u));
  const all = (...s: Up[]) => ups.every((u) => s.includes(u));
  const done = !any('running');
  switch (rule) {
    case 'always':
      return 'run';
    case 'all_success':
      if (any('failed', 'upstream_failed')) return 'upstream_failed';
      if (any('skipped')) return 'skipped';
      return all('success') ? 'run' : 'wait';
    case 'all_failed':
      if (any('success', 'skipped')) return 'skipped';
      return all('failed', 'upstream_failed') ? 'run' : 'wait';
    case 'all_done':
      return done ? 'run' : 'wait';
    // With no upstream setup among them (the oracle's upstreams are work tasks), as all_done.
    case 'all_done_setup_success':
      return done ? 'run' : 'wait';
    case 'all_done_min_one_success':
      if (any('skipped')) return 'skipped';
      if (!done) return 'wait';
      return any('success') ? 'run' : 'upstream_failed';
    case 'one_success':
      if (any('success')) return 'run';
      if (!done) return 'wait';
      return all('skipped') ? 'skipped' : 'upstream_failed';
    case 'one_failed':
      if (any('failed', 'upstream_failed')) return 'run';
      return done ? 'skipped' : 'wait';
    case 'one_done':
      if (any('success', 'failed')) return 'run';
      return done ? 'skipped' : 'wait';
    case 'none_failed':
      if (any('failed', 'upstream_failed')) return 'upstream_failed';
      return done ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (any('failed', 'upstream_failed')) return 'upstream_failed';
      if (!done) return 'wait';
      return all('skipped') ? 'skipped' : 'run';
    case 'none_skipped':
      if (any('skipped')) return 'skipped';
      return done ? 'run' : 'wait';
    case 'all_skipped':
      if (any('success', 'failed', 'upstream_failed')) return 'skipped';
      return all('skipped') ? 'run' : 'wait';
  }
}

function countsOf(ups: Up[]): UpstreamCounts {
  const c = emptyCounts();
  c.total = ups.length;
  for (const u of ups) if (u !== 'running') c[u] += 1;
  return c;
}

const STATES: Up[] = ['success', 'failed', 'skipped', 'upstream_failed', 'running'];

/** Every multiset of 1 to 3 upstream states. */
function mixes(): Up[][] {
  const out: Up[][] = [];
  const rec = (from: number, cur: Up[]) => {
    if (cur.length) out.push([...cur]);
    if (cur.length === 3) return;
    for (let i = from; i < STATES.length; i++) rec(i, [...cur, STATES[i]!]);
  };
  rec(0, []);
  return out;
}

describe('trigger rules: every rule against every mix of upstream states', () => {
  const cases = TRIGGER_RULES.flatMap((rule) => mixes().map((ups) => ({ rule, ups, expected: oracle(rule, ups) })));
  it('covers all 13 rules and 55 mixes of 1 to 3 upstreams', () => {
    expect(TRIGGER_RULES).toHaveLength(13);
    expect(cases).toHaveLength(13 * 55);
  });
  it.each(cases)('$rule with [$ups] -> $expected', ({ rule, ups, expected }) => {
    expect(evaluateTriggerRule(rule, countsOf(ups), ups.length)).toBe(expected);
  });
});

describe('trigger rules: hand-checked rows from the Airflow docs', () => {
  const rows: [TriggerRule, Up[], RuleVerdict][] = [
    ['all_success', ['success', 'success'], 'run'],
    ['all_success', ['success', 'skipped'], 'skipped'],
    ['all_success', ['running', 'failed'], 'upstream_failed'],
    ['all_failed', ['failed', 'upstream_failed'], 'run'],
    ['all_failed', ['failed', 'success'], 'skipped'],
    ['all_done', ['failed', 'skipped', 'success'], 'run'],
    ['all_done', ['failed', 'running'], 'wait'],
    ['one_success', ['success', 'running'], 'run'],
    ['one_success', ['skipped', 'skipped'], 'skipped'],
    ['one_success', ['failed', 'skipped'], 'upstream_failed'],
    ['one_failed', ['running', 'failed'], 'run'],
    ['one_failed', ['success', 'skipped'], 'skipped'],
    ['one_done', ['running', 'success'], 'run'],
    ['one_done', ['skipped', 'upstream_failed'], 'skipped'],
    ['none_failed', ['skipped', 'skipped'], 'run'],
    ['none_failed', ['success', 'upstream_failed'], 'upstream_failed'],
    ['none_failed_min_one_success', ['skipped', 'success'], 'run'],
    ['none_failed_min_one_success', ['skipped', 'skipped'], 'skipped'],
    ['none_skipped', ['failed', 'success'], 'run'],
    ['none_skipped', ['skipped', 'running'], 'skipped'],
    ['all_skipped', ['skipped', 'skipped'], 'run'],
    ['all_skipped', ['skipped', 'success'], 'skipped'],
    ['all_done_min_one_success', ['failed', 'success'], 'run'],
    ['all_done_min_one_success', ['failed', 'upstream_failed'], 'upstream_failed'],
    ['all_done_min_one_success', ['success', 'skipped'], 'skipped'],
    ['always', ['running'], 'run'],
  ];
  it.each(rows)('%s with %j -> %s', (rule, ups, expected) => {
    expect(evaluateTriggerRule(rule, countsOf(ups), ups.length)).toBe(expected);
  });

  it('a task with no upstream always runs', () => {
    for (const rule of TRIGGER_RULES) expect(evaluateTriggerRule(rule, emptyCounts(), 0)).toBe('run');
  });

  it('a mapped upstream not yet expanded keeps all_done and none_failed waiting', () => {
    const c = { ...emptyCounts(), success: 1, total: 1, unknownTasks: 1 };
    expect(evaluateTriggerRule('all_done', c, 2)).toBe('wait');
    expect(evaluateTriggerRule('none_failed', c, 2)).toBe('wait');
    expect(evaluateTriggerRule('all_success', c, 2)).toBe('wait');
    expect(evaluateTriggerRule('one_success', c, 2)).toBe('run');
  });
});
