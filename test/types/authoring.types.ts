// The types the authoring API infers: task inputs and results, XComArgs, params, expand / partial /
// iterate, and the context a task's code receives. Compiled by `npm run typecheck`, never run; each
// `@ts-expect-error` is a call that must not type-check (tsc fails if it does).

import type { batchJob, empty, triggerDag } from '../../lib/index.ts';
import { branch, dag, sensor, task, type TaskContext, type TaskHandle, type TaskNode, type XComArg } from '../../lib/index.ts';
import type { BatchJobResult, TriggerDagResult } from '../../lib/authoring/operators.ts';
import { assertType, type IsEqual } from './type-assert.ts';

dag({ dagId: 'types_tasks' }, () => {
  // A task's result is what its function returns, awaited; no second parameter means no input.
  const one = task('one', () => 1);
  assertType<IsEqual<typeof one, TaskHandle<void, number>>>();
  const text = task('text', async () => 'x');
  assertType<IsEqual<typeof text, TaskHandle<void, string>>>();
  const list = task('list', () => [1, 2, 3]);
  assertType<IsEqual<typeof list, TaskHandle<void, number[]>>>();

  // The input type is the function's second parameter.
  const square = task('square', (_ctx, n: number) => n * n);
  assertType<IsEqual<typeof square, TaskHandle<number, number>>>();
  assertType<IsEqual<ReturnType<typeof square>, TaskNode<number>>>();
  square(2);
  square(one);
  // @ts-expect-error a string is not the number the task takes
  square('2');
  // @ts-expect-error an upstream result of the wrong type
  square(text);

  // Object inputs: upstream results at any depth, every field checked.
  const label = task('label', (_ctx, i: { n: number; tags: string[] }) => `${i.n}:${i.tags.join(',')}`);
  label({ n: one, tags: ['a', text] });
  label({ n: 1, tags: task('tags', () => ['a']) });
  // @ts-expect-error a missing field
  label({ n: one });
  // @ts-expect-error an upstream result of the wrong type in a field
  label({ n: text, tags: [] });

  // The handle is an XComArg of the result; another XCom key is typed by the caller.
  assertType<IsEqual<typeof one extends XComArg<number> ? true : false, true>>();
  assertType<IsEqual<ReturnType<typeof one.xcom<string>>, XComArg<string>>>();
  assertType<IsEqual<ReturnType<typeof one.xcom>, XComArg<unknown>>>();

  // Dynamic task mapping: a list of inputs (or an upstream list) gives a list of results.
  assertType<IsEqual<ReturnType<typeof square.expand>, TaskNode<number[]>>>();
  square.expand([1, 2, 3]);
  square.expand(list);
  // @ts-expect-error a list of the wrong items
  square.expand(['a']);
  // @ts-expect-error an upstream that is not a list
  square.expand(one);

  // partial fixes some fields; expand / iterate take lists of the rest.
  const add = task('add', (_ctx, i: { x: number; y: number }) => i.x + i.y);
  const _added = add.partial({ x: one }).expand({ y: [1, 2] });
  assertType<IsEqual<typeof _added, TaskNode<number[]>>>();
  add.partial({ x: 1 }).expandKwargs([{ y: 1 }, { y: 2 }]);
  // @ts-expect-error a fixed field cannot be mapped over again
  add.partial({ x: 1 }).expand({ x: [1] });
  // @ts-expect-error a fixed field of the wrong type
  add.partial({ x: 'a' });
  add.expand({ x: [1], y: list });
  // @ts-expect-error expand over fields needs a list per field
  add.expand({ x: 1, y: [1] });

  // iterate: every item inside one task instance; results as a list.
  const _iterated = square.iterate([1, 2], { concurrency: 2, itemRetries: 1 });
  assertType<IsEqual<typeof _iterated, TaskNode<number[]>>>();
  assertType<IsEqual<ReturnType<typeof add.iterate>, TaskNode<number[]>>>();
  add.iterate({ x: [1], y: [2] });
  add.iterateKwargs([{ x: 1, y: 2 }]);
  // @ts-expect-error an unknown iterate option
  square.iterate([1], { concurency: 2 });

  // Edges without data return the node itself.
  assertType<IsEqual<ReturnType<typeof one.after>, typeof one>>();

  // The other operators.
  assertType<IsEqual<ReturnType<typeof empty>, TaskHandle<void, null>>>();
  const _chosen = branch('choose', () => 'one');
  assertType<IsEqual<typeof _chosen, TaskHandle<void, string[]>>>();
  // @ts-expect-error a branch returns task ids (or null)
  branch('bad_branch', () => 1);
  const _waited = sensor('wait', () => ({ isDone: true, xcomValue: 'found' }));
  assertType<IsEqual<typeof _waited, TaskHandle<void, string>>>();
  assertType<IsEqual<ReturnType<typeof triggerDag>, TaskHandle<Record<string, unknown>, TriggerDagResult>>>();
  assertType<IsEqual<ReturnType<typeof batchJob> extends TaskHandle<infer _I, infer R> ? R : never, BatchJobResult>>();

  // A task imported directly (not from dag()'s argument) sees params untyped.
  task('ctx', (_ctx) => {
    assertType<IsEqual<typeof _ctx, TaskContext>>();
    assertType<IsEqual<typeof _ctx.params, Record<string, any>>>();
    assertType<IsEqual<typeof _ctx.mapIndex, number | null>>();
    assertType<IsEqual<ReturnType<typeof _ctx.xcomPull<number>>, Promise<number | undefined>>>();
    assertType<IsEqual<typeof _ctx.item, { readonly index: number; readonly tryNumber: number } | null>>();
  });
});

// Params: dag()'s argument gives the operators typed with the params' values, inferred from the schemas.
dag(
  {
    dagId: 'types_params',
    params: {
      n: { type: 'integer', default: 3 },
      ratio: { type: 'number', default: 0.5 },
      mode: { enum: ['fast', 'exact'], default: 'fast' },
      name: { type: 'string', default: 'x' },
      flag: { type: 'boolean', default: false },
      tags: { type: 'array', items: { type: 'string' }, default: [] },
      extra: { type: 'object', default: {} },
      untyped: { default: 7 },
    },
  },
  ({ task: typedTask, sensor: typedSensor, branch: typedBranch }) => {
    typedTask('read', (ctx) => {
      assertType<
        IsEqual<
          typeof ctx.params,
          {
            readonly n: number;
            readonly ratio: number;
            readonly mode: 'fast' | 'exact';
            readonly name: string;
            readonly flag: boolean;
            readonly tags: string[];
            readonly extra: Record<string, unknown>;
            // No type: the default's own (literal) type.
            readonly untyped: 7;
          }
        >
      >();
      // @ts-expect-error no such param
      void ctx.params.missing;
      // @ts-expect-error params are read-only
      ctx.params.n = 4;
      return ctx.params.n;
    });
    typedSensor('poke', (ctx) => ctx.params.flag);
    typedBranch('pick', (ctx) => (ctx.params.mode === 'fast' ? 'read' : null));
    // @ts-expect-error a mode that is not in the enum can never match
    typedTask('compare', (ctx) => ctx.params.mode === 'slow');
  },
);

// A DAG without params gives a context whose params are empty.
dag({ dagId: 'types_no_params' }, ({ task: typedTask }) => {
  typedTask('t', (_ctx) => {
    assertType<IsEqual<typeof _ctx.params, { readonly [x: string]: never }>>();
  });
});
