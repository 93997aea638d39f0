// The types of partitioned iteration: `.expand<P>(partitions)` then `.iterate(items)` / `.iterateKwargs(items)`.
// Compiled by `npm run typecheck`, never run; each `@ts-expect-error` is a call that must not type-check.

import { dag, task, type TaskContext, type TaskNode } from '../../lib/index.ts';
import { assertType, type IsEqual } from './type-assert.ts';

interface Night {
  night: string;
  files: number;
}

dag({ dagId: 'types_partitions' }, () => {
  const nights = task('nights', (): Night[] => [{ night: '2026-01-01', files: 3 }]);
  const reduce = task('reduce', (_ctx, file: string) => file.length);

  // Items as a function of the partition (typed by the named partition type); results: one list per partition.
  const perNight = reduce.expand<Night>(nights).iterate((n, _ctx) => {
    assertType<IsEqual<typeof n, Night>>();
    assertType<IsEqual<typeof _ctx, TaskContext>>();
    return Array.from({ length: n.files }, (_, i) => `${n.night}/${i}.ms`);
  });
  assertType<IsEqual<typeof perNight, TaskNode<number[][]>>>();
  // An async items function, and options.
  reduce.expand<Night>(nights).iterate(async (n) => [n.night], { concurrency: 4, itemRetries: 2 });
  // A list of lists (one per partition), literal or upstream.
  reduce.expand<string>(['a', 'b']).iterate([['a.ms'], ['b.ms']]);
  reduce.expand<Night>(nights).iterate(task('lists', () => [['x.ms']]));
  // A downstream takes the list of lists.
  task('sum', (_ctx, xs: number[][]) => xs.flat().length)(perNight);

  // @ts-expect-error the items must be the task's input type
  reduce.expand<Night>(nights).iterate((n) => [n.files]);
  // @ts-expect-error a list of lists of the wrong item type
  reduce.expand<string>(['a']).iterate([[1]]);
  // @ts-expect-error an upstream list that is not a list of lists of items
  reduce.expand<Night>(nights).iterate(task('flat', () => ['x.ms']));
  // @ts-expect-error partitions of another type than named
  reduce.expand<Night>(['a']);
  // @ts-expect-error without a named partition type, partitions of another type than the input are a mapping error
  reduce.expand([1, 2]);
  // @ts-expect-error an unknown iterate option
  reduce.expand<string>(['a']).iterate(() => ['x'], { concurency: 2 });
  // @ts-expect-error a partitioned task needs its items before it is a result
  task('early', (_ctx, xs: number[][]) => xs)(reduce.expand<string>(['a']));

  // Kwargs: the item's fields complete the partition's (and the fixed ones).
  const image = task('image', (_ctx, i: { site: string; night: string; file: string }) => `${i.site}${i.night}${i.file}`);
  const _imaged = image
    .partial({ site: 'alma' })
    .expandKwargs<{ night: string }>([{ night: 'n1' }])
    .iterateKwargs((p) => [{ file: `${p.night}.ms` }]);
  assertType<IsEqual<typeof _imaged, TaskNode<string[][]>>>();
  image.expandKwargs<{ site: string; night: string }>([{ site: 's', night: 'n' }]).iterate({ file: (p) => [p.night] });
  image.expandKwargs<{ site: string; night: string }>([{ site: 's', night: 'n' }]).iterate({ file: [['a'], ['b']] });
  // Named lists of partitions (cross product), with fixed fields too.
  const _named = image.partial({ site: 'alma' }).expand<{ night: string }>({ night: ['n1', 'n2'] }).iterate({ file: (p) => [`${p.night}.ms`] });
  assertType<IsEqual<typeof _named, TaskNode<string[][]>>>();
  image.expand<{ site: string; night: string }>({ site: ['s'], night: task('ns', () => ['n']) }).iterateKwargs(() => [{ file: 'f' }]);
  // @ts-expect-error a named list of another type than named
  image.expand<{ site: string; night: string }>({ site: [1], night: ['n'] });
  // @ts-expect-error an item field of the wrong type
  image.expandKwargs<{ site: string; night: string }>([{ site: 's', night: 'n' }]).iterateKwargs(() => [{ file: 1 }]);
  // @ts-expect-error a field the input does not have
  image.partial({ site: 'alma' }).expandKwargs<{ night: string }>([{ night: 'n1' }]).iterate({ nope: () => ['x'] });
});
