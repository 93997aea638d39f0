import { errorMessage } from '../errors.ts';
import { isTransientStoreError, retryTransient, type RetryOptions } from '../store/retry.ts';
import type { StateStore } from '../store/state-store.ts';

/**
 * A call a try made outside its task's code (to the state store, or through the scheduler to it) failed,
 * after `retryTransient`: an infrastructure failure, never the task's. The TaskRunner throws it instead of
 * returning a TryResult, so that its host delivers the try again (deployed: the Lambda fails and Step
 * Functions retries it; locally the LocalRunner dispatches it again after a backoff) or, when the try may
 * have started, settles it as lost.
 *
 * `started`: the instance may be `running` this try (its mark-running applied, or may have), so a new
 * delivery runs nothing (a try's code runs at most once per try number): the host must settle it (the
 * reconcile's `LostTryError`), not deliver it again. False: the instance is still `queued` (nothing ran,
 * or the runner put it back before any task code ran), and delivering it again runs it.
 */
export class TryInfrastructureError extends Error {
  override name = 'TryInfrastructureError';
  constructor(
    /** What failed, e.g. `store.putXCom`. */
    readonly where: string,
    override readonly cause: unknown,
    readonly started: boolean,
  ) {
    super(`${where} failed: ${errorMessage(cause)}`, { cause });
  }

  /**
   * Whether the store said it is unavailable (a StoreUnavailableError, retryable or given up on, or any
   * retryable error): it may answer later, so the host can deliver or settle the try then. Otherwise the
   * store failed in a way waiting does not cure (a bug, a broken database): an internal error.
   */
  get recoverable(): boolean {
    return storeUnavailable(this.cause);
  }

  /** The same failure, with `started` as the host must know it. */
  withStarted(started: boolean): TryInfrastructureError {
    return started === this.started ? this : new TryInfrastructureError(this.where, this.cause, started);
  }
}

/** A store error that says the store is unavailable for now (retryable, or given up on after retries). */
export function storeUnavailable(e: unknown): boolean {
  return isTransientStoreError(e) || (e instanceof Error && e.name === 'StoreUnavailableError');
}

/**
 * The store as a try's runner uses it outside task code: every call goes through `retryTransient`, and an
 * error that is left (transient past the attempts, or any other) becomes a {@link TryInfrastructureError}
 * naming the call. Only functions are wrapped; the wrappers are made once per method.
 */
export function infrastructureStore(store: StateStore, retry?: RetryOptions): StateStore {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      let w = wrapped.get(prop);
      if (!w) {
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        const where = `store.${String(prop)}`;
        w = (...args: unknown[]) =>
          retryTransient(() => fn.apply(target, args), retry).catch((e: unknown) => {
            throw e instanceof TryInfrastructureError ? e : new TryInfrastructureError(where, e, false);
          });
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}

/**
 * Run a call outside task code that is not a store call but reaches the store (e.g. the scheduler's
 * `triggerRun`): transient store errors are retried, and a store that stays unavailable becomes a
 * {@link TryInfrastructureError}; any other error is the call's own (a task failure, as before).
 */
export async function throughInfrastructure<T>(where: string, fn: () => Promise<T>, retry?: RetryOptions): Promise<T> {
  try {
    return await retryTransient(fn, retry);
  } catch (e) {
    if (e instanceof TryInfrastructureError) throw e;
    if (storeUnavailable(e)) throw new TryInfrastructureError(where, e, false);
    throw e;
  }
}
