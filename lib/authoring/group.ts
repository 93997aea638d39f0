import { currentBuilder, targetIds, type DependencyTarget, type GroupDraft, type TaskGroupRef } from './builder.ts';
import { TASK_OPTION_KEYS, type TaskOptions } from './options.ts';
import { groupLeaves } from '../core/setup-teardown.ts';

export interface TaskGroupOptions {
  /**
   * Prefix the ids of tasks declared inside with `groupId.`.
   * @default true
   */
  prefixGroupId?: boolean;
  /**
   * Task options for every task inside (over the DAG's defaultArgs).
   * @default {} (the enclosing group's or the DAG's apply)
   */
  defaultArgs?: TaskOptions;
  /**
   * A short description of the group.
   * @default none
   */
  tooltip?: string;
}

export interface TaskGroupHandle extends TaskGroupRef {
  after(...upstream: DependencyTarget[]): this;
  before(...downstream: DependencyTarget[]): this;
}

/** A task group: tasks declared inside `body` get the group's prefix and defaultArgs. */
export function taskGroup<T>(groupId: string, body: () => T): TaskGroupHandle & { result: T };
export function taskGroup<T>(groupId: string, options: TaskGroupOptions, body: () => T): TaskGroupHandle & { result: T };
export function taskGroup<T>(
  groupId: string,
  a: TaskGroupOptions | (() => T),
  c?: () => T,
): TaskGroupHandle & { result: T } {
  const b = currentBuilder('taskGroup()');
  const options = typeof a === 'function' ? {} : a;
  const maybeBody = typeof a === 'function' ? a : c;
  if (typeof maybeBody !== 'function') return b.fail(`taskGroup '${groupId}' needs a body function`);
  const body: () => T = maybeBody;
  for (const k of Object.keys(options)) {
    if (!['prefixGroupId', 'defaultArgs', 'tooltip'].includes(k)) b.fail(`unknown taskGroup option '${k}' in group '${groupId}'`);
  }
  for (const k of Object.keys(options.defaultArgs ?? {})) {
    if (!(TASK_OPTION_KEYS as readonly string[]).includes(k)) b.fail(`unknown option '${k}' in defaultArgs of group '${groupId}'`);
  }
  const parent = b.groupStack.at(-1) ?? null;
  const fullId = parent && parent.prefixGroupId ? `${parent.groupId}.${groupId}` : groupId;
  if (b.groups.some((g) => g.groupId === fullId)) b.fail(`duplicate task group id '${fullId}'`);
  const draft: GroupDraft = {
    groupId: fullId,
    parentGroupId: parent?.groupId ?? null,
    tooltip: options.tooltip ?? null,
    prefixGroupId: options.prefixGroupId ?? true,
    defaultArgs: options.defaultArgs ?? {},
    taskIds: [],
  };
  b.groups.push(draft);
  b.groupStack.push(draft);
  let result: T;
  try {
    result = body();
  } finally {
    b.groupStack.pop();
  }
  const inGroup = (id: string) => draft.taskIds.includes(id);
  const handle: TaskGroupHandle & { result: T } = {
    groupId: fullId,
    result,
    roots: () => draft.taskIds.filter((id) => ![...b.tasks.get(id)!.upstream].some(inGroup)),
    // A teardown is not a leaf: its nearest work tasks are (as Airflow's TaskGroup.get_leaves).
    leaves: () => groupLeaves(draft.taskIds, (id) => b.graphNode(id)),
    after(...ups) {
      const roots = handle.roots();
      for (const u of targetIds(b, ups, 'leaves')) for (const r of roots) b.addEdge(u, r);
      return this;
    },
    before(...downs) {
      const leaves = handle.leaves();
      for (const d of targetIds(b, downs, 'roots')) for (const l of leaves) b.addEdge(l, d);
      return this;
    },
  };
  return handle;
}

/**
 * `chain(a, b, [c, d], e)`: a before b, b before c and d, c and d before e. Two adjacent lists must have
 * the same length and are linked pairwise, as in Airflow.
 */
export function chain(...items: DependencyTarget[]): void {
  const b = currentBuilder('chain()');
  for (let i = 0; i + 1 < items.length; i++) {
    const up = items[i]!;
    const down = items[i + 1]!;
    if (Array.isArray(up) && Array.isArray(down)) {
      if (up.length !== down.length) b.fail(`chain(): adjacent lists must have the same length (${up.length} and ${down.length})`);
      up.forEach((u, k) => {
        for (const x of targetIds(b, [u], 'leaves')) for (const y of targetIds(b, [down[k]!], 'roots')) b.addEdge(x, y);
      });
    } else {
      for (const x of targetIds(b, [up], 'leaves')) for (const y of targetIds(b, [down], 'roots')) b.addEdge(x, y);
    }
  }
}
