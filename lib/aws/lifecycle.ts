// The contract with the compiled state machines lives beside the compiler; the handlers use the same types.
export type { NextAction as LifecycleNext, LifecycleInput } from '../compiler/contract.ts';
export { sameTi } from '../model/keys.ts';
