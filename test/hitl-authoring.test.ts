// approval(), hitlChoice(), hitlForm(): the specs they declare, and bad options refused with an error naming
// the DAG, the task and the field.
import { describe, expect, it } from 'vitest';
import { approval, dag, hitlChoice, hitlForm } from '../lib/index.ts';
import { checkHitlAnswer, isRejection, timeoutResponse } from '../lib/core/hitl.ts';

const build = (fn: () => void) => () => dag({ dagId: 'h' }, fn);

describe('human-in-the-loop authoring', () => {
  it('declares the hitl kind with its spec (approval, choice, form defaults as Airflow)', () => {
    const d = dag({ dagId: 'h' }, () => {
      approval('a', { subject: 'Ship {{ run_id }}?', timeout: '2h', defaultOption: 'Reject', failOnReject: true, assignedTo: ['ana', 'ana'] });
      hitlChoice('c', { subject: 'Pick', options: ['x', 'y'], multiple: true, defaultOptions: ['y', 'x'] });
      hitlForm('f', { subject: 'Fill', body: 'in {{ dag_id }}', params: { n: { type: 'integer', default: 1 } }, timeout: 60_000 });
    });
    expect(d.task('a')).toMatchObject({
      kind: 'hitl',
      sensor: null,
      shortCircuit: null,
      hitl: { mode: 'approval', subject: 'Ship {{ run_id }}?', body: null, options: ['Approve', 'Reject'], multiple: false, defaults: ['Reject'], params: null, timeoutMs: 7_200_000, assignedTo: ['ana'], failOnReject: true },
    });
    expect(d.task('c').hitl).toStrictEqual({ mode: 'choice', subject: 'Pick', body: null, options: ['x', 'y'], multiple: true, defaults: ['y', 'x'], params: null, timeoutMs: null, assignedTo: [] });
    expect(d.task('f').hitl).toStrictEqual({ mode: 'form', subject: 'Fill', body: 'in {{ dag_id }}', options: ['OK'], multiple: false, defaults: ['OK'], params: { n: { type: 'integer', default: 1 } }, timeoutMs: 60_000, assignedTo: [] });
    // failOnReject is present only when set (the spec, and the DAG version, of an approval without it keep their shape).
    expect('failOnReject' in (dag({ dagId: 'p' }, () => approval('a', { subject: 's' })).task('a').hitl ?? {})).toBe(false);
  });

  it.each([
    ['empty options', () => hitlChoice('t', { subject: 's', options: [] }), "DAG 'h', task 't', field 'options': hitlChoice(): expected a non-empty list of option labels, got []"],
    ['a duplicate option', () => hitlChoice('t', { subject: 's', options: ['a', 'a'] }), "field 'options': hitlChoice(): option 'a' is given twice"],
    ['a default not among the options', () => hitlChoice('t', { subject: 's', options: ['a', 'b'], defaultOptions: ['c'] }), `field 'defaultOptions': hitlChoice(): default "c" is not among the options ('a', 'b')`],
    ['two defaults without multiple', () => hitlChoice('t', { subject: 's', options: ['a', 'b'], defaultOptions: ['a', 'b'] }), "field 'defaultOptions': hitlChoice(): only one default can be given unless multiple is set, got 2"],
    ['an approval default not among its options', () => approval('t', { subject: 's', defaultOption: 'Yes' }), `field 'defaultOption': approval(): default "Yes" is not among the options ('Approve', 'Reject')`],
    ['an approval with three options', () => approval('t', { subject: 's', options: ['a', 'b', 'c'] as never }), "field 'options': approval(): an approval has two options (approve, reject), got 3"],
    ['a bad params schema', () => hitlForm('t', { subject: 's', params: { n: { type: 'integer', minimum: 'x' } } }), "DAG 'h', task 't', field 'params.n': invalid JSON Schema"],
    ['a param default that fails its schema', () => hitlForm('t', { subject: 's', params: { n: { type: 'integer', default: 'x' } } }), `field 'params.n': default "x" fails its own schema`],
    ['a form without fields', () => hitlForm('t', { subject: 's', params: {} }), "field 'params': hitlForm(): a form needs at least one field"],
    ['a timed form whose field has no default', () => hitlForm('t', { subject: 's', timeout: '1h', params: { n: { type: 'integer' } } }), "field 'params.n': hitlForm(): a form whose timeout takes the defaults needs a default for every field ('n' has none); or set defaults: null"],
    ['a bad timeout', () => approval('t', { subject: 's', timeout: 'soon' }), "DAG 'h', task 't', field 'timeout': 'soon' is not a duration"],
    ['a zero timeout', () => approval('t', { subject: 's', timeout: 0 }), "field 'timeout': approval(): must be longer than 0, got 0"],
    ['a timeout past a year', () => approval('t', { subject: 's', timeout: '400d' }), `field 'timeout': approval(): must be at most a year (Step Functions' longest wait), got "400d"`],
    ['an unknown template placeholder', () => approval('t', { subject: 'Ship {{ nope }}' }), "field 'subject': template \"Ship {{ nope }}\": unknown placeholder '{{ nope }}'"],
    ['no subject', () => approval('t', {} as never), "field 'subject': approval(): expected a non-empty string, got undefined"],
    ['an unknown option', () => approval('t', { subject: 's', option: 'x' } as never), "DAG 'h', task 't': unknown option 'option' for approval()"],
    ['bad assignees', () => approval('t', { subject: 's', assignedTo: 'ana' as never }), `field 'assignedTo': approval(): expected a list of user names, got "ana"`],
  ])('refuses %s, naming DAG, task and field', (_what, declare, message) => {
    expect(build(declare)).toThrow(message);
  });
});

describe('the answer rules (lib/core/hitl.ts)', () => {
  const q = { options: ['Approve', 'Reject'], multiple: false, defaults: ['Reject'], params: { n: { type: 'integer' as const, default: 3 } }, assignedTo: [] };
  it('checks options and values, filling defaults', () => {
    expect(checkHitlAnswer(q, { chosenOptions: ['Approve'], paramsInput: {} })).toStrictEqual({ ok: true, chosenOptions: ['Approve'], paramsInput: { n: 3 } });
    expect(checkHitlAnswer(q, { chosenOptions: ['Approve'], paramsInput: { n: 1.5 } })).toStrictEqual({ ok: false, problem: { field: 'params_input.n', detail: "field 'n' = 1.5 is invalid: value must be integer" } });
    expect(checkHitlAnswer(q, { chosenOptions: [], paramsInput: {} })).toStrictEqual({ ok: false, problem: { field: 'chosen_options', detail: "choose one of 'Approve', 'Reject'" } });
  });
  it('a timeout takes the defaults (fields at their defaults), or nothing', () => {
    expect(timeoutResponse(q, 'T')).toStrictEqual({ chosenOptions: ['Reject'], paramsInput: { n: 3 }, respondedBy: null, respondedAt: 'T', timedOut: true });
    expect(timeoutResponse({ ...q, defaults: null }, 'T')).toStrictEqual({ chosenOptions: [], paramsInput: {}, respondedBy: null, respondedAt: 'T', timedOut: true });
  });
  it('only an approval rejects, with its second option', () => {
    expect(isRejection({ mode: 'approval', options: ['Go', 'Stop'] }, { chosenOptions: ['Stop'] })).toBe(true);
    expect(isRejection({ mode: 'approval', options: ['Go', 'Stop'] }, { chosenOptions: ['Go'] })).toBe(false);
    expect(isRejection({ mode: 'choice', options: ['Go', 'Stop'] }, { chosenOptions: ['Stop'] })).toBe(false);
  });
});
