import type { TiKey } from '../store/records.ts';

// The contract with the compiled state machines lives beside the compiler; the handlers use the same types.
export type { NextAction as LifecycleNext, LifecycleInput } from '../compiler/contract.ts';

export function sameTi(a: TiKey, b: TiKey): boolean {
  return a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;
}
