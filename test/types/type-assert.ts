// Type-level assertions, checked by `tsc` (npm run typecheck) and never run: a changed inferred type
// fails to compile. `assertType<IsEqual<Actual, Expected>>()` in the style of inngest-js's tests.

/**
 * Whether A and B are the same type: exact, not mutual assignability (`any` equals only `any`, a
 * readonly field differs from a mutable one).
 */
export type IsEqual<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

/** Compiles only when `T` is `true`. */
export function assertType<T extends true>(..._: T extends true ? [] : [never]): void {}
