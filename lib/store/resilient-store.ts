import type { DagRunRecord, RunRef, TaskInstanceRecord, TaskStateRecord, TiKey } from './records.ts';
import { canonicalJson } from '../model/hash.ts';
import { isTransientStoreError, retryTransient, type RetryOptions } from './retry.ts';
import type { HitlRecord, HitlRespondResult } from './hitl-records.ts';
import type { BulkFinishResult, BulkResetResult, FinishRequest, FinishResult, ResetRequest, StateStore, TiExpectation, TiUpdate } from './state-store.ts';

/**
 * A state store whose calls survive transient failures: each call that fails with a retryable error
 * (a lock held by another process, throttling, a dropped connection) is made again after a backoff.
 *
 * A write that failed that way may have applied before its answer was lost. Its retry then finds its
 * own condition false and would report "someone else did it", and the caller would skip what follows
 * (the instance a decision creates, the slots a finished try gives back). So after a transient failure,
 * a conditional write whose retry reports its condition false is checked against what the store holds:
 * when the item already is what the write makes it, the write is reported applied, as it was. Writes
 * that are idempotent by their nature (puts, create-if-absent, per-holder semaphores) need no check.
 */
export class ResilientStateStore {
  /** The store that is wrapped. */
  readonly inner: StateStore;

  private constructor(inner: StateStore) {
    this.inner = inner;
  }

  /** `store` wrapped (a store wrapped already is returned as it is). */
  static wrap(store: StateStore, options: RetryOptions = {}): StateStore {
    if ((store as { [RESILIENT]?: true })[RESILIENT]) return store;
    const self = new ResilientStateStore(store);
    const recover = self.recoveries();
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === RESILIENT) return true;
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => Promise<unknown>;
        const check = recover[prop as keyof typeof recover] as ((args: unknown[], result: unknown) => Promise<unknown>) | undefined;
        return async (...args: unknown[]) => {
          let failed = false;
          const result = await retryTransient(async () => {
            try {
              return await method.apply(target, args);
            } catch (e) {
              if (isTransientStoreError(e)) failed = true;
              throw e;
            }
          }, options);
          return failed && check ? check(args, result) : result;
        };
      },
    });
  }

  /** Per conditional write: after a transient failure, the result to report given what the store holds. */
  private recoveries() {
    const s = this.inner;
    const ti = (key: TiKey) => s.getTaskInstance(key);
    return {
      createRun: async ([run]: unknown[], created: unknown) => {
        if (created) return created;
        const r = run as DagRunRecord;
        const now = await s.getRun({ dagId: r.dagId, runId: r.runId });
        return !!now && now.dagId === r.dagId && now.queuedAt === r.queuedAt && JSON.stringify(now.conf) === JSON.stringify(r.conf);
      },
      updateRun: async ([ref, , patch]: unknown[], updated: unknown) => {
        if (updated) return updated;
        const now = await s.getRun(ref as RunRef);
        return now && matches(now, patch as Partial<DagRunRecord>) ? now : undefined;
      },
      claimDecision: async ([ref, taskId, decision]: unknown[], claimed: unknown) => {
        if (claimed) return claimed;
        const [now] = await s.getTaskStates(ref as RunRef, [taskId as string]);
        return now?.decision === decision;
      },
      claimDecisions: async ([ref, taskIds, decision]: unknown[], claimed: unknown) => {
        const flags = [...(claimed as boolean[])];
        if (flags.every(Boolean)) return flags;
        const now = await s.getTaskStates(ref as RunRef, taskIds as string[]);
        return flags.map((f, i) => f || now[i]?.decision === decision);
      },
      claimExpansion: async ([ref, taskId, count]: unknown[], claimed: unknown) => {
        if (claimed) return claimed;
        const [now] = await s.getTaskStates(ref as RunRef, [taskId as string]);
        return now?.decision === 'expanded' && now.mapCount === count;
      },
      updateTaskInstance: async ([key, expect, patch]: unknown[], updated: unknown) => {
        if (updated) return updated;
        const now = await ti(key as TiKey);
        return now && applied(now, expect as TiExpectation, patch as Partial<TaskInstanceRecord>) ? now : undefined;
      },
      updateTaskInstances: async ([updates]: unknown[], result: unknown) => {
        const list = updates as readonly TiUpdate[];
        const flags = [...(result as boolean[])];
        for (let i = 0; i < list.length; i++) {
          if (flags[i]) continue;
          const u = list[i]!;
          const now = await ti(u.key);
          flags[i] = !!now && applied(now, u.expect, u.patch);
        }
        return flags;
      },
      finishTaskInstance: async ([req]: unknown[], result: unknown) => {
        if (result) return result;
        const r = req as FinishRequest;
        const now = await ti(r.key);
        if (!now || now.state !== r.state || !matches(now, r.patch)) return undefined;
        const run = await s.getRun(r.key);
        const downstream = await s.getTaskStates(r.key, r.downstream);
        return { ti: now, pending: run?.pending ?? 0, downstream: downstream.map((d, i) => d ?? emptyState(r.key, r.downstream[i]!)) } satisfies FinishResult;
      },
      finishTaskInstances: async ([reqs]: unknown[], result: unknown) => {
        const list = reqs as readonly FinishRequest[];
        const res = result as BulkFinishResult;
        const flags = await recheck(list, res.applied, ti, (now, r) => !!now && now.state === r.state && matches(now, r.patch));
        if (!flags) return res;
        const first = list[0]!;
        const run = await s.getRun(first.key);
        const downstream = await s.getTaskStates(first.key, first.downstream);
        return { applied: flags, pending: run?.pending ?? res.pending, downstream: downstream.map((d, i) => d ?? emptyState(first.key, first.downstream[i]!)) } satisfies BulkFinishResult;
      },
      resetTaskInstances: async ([reqs]: unknown[], result: unknown) => {
        const list = reqs as readonly ResetRequest[];
        const res = result as BulkResetResult;
        const flags = await recheck(list, res.applied, ti, (now, r) => (r.to === 'absent' ? now === undefined : !!now && matches(now, r.to)));
        if (!flags) return res;
        const run = await s.getRun(list[0]!.key);
        return { applied: flags, pending: run?.pending ?? res.pending } satisfies BulkResetResult;
      },
      putHitlRequest: async ([rec]: unknown[], created: unknown) => {
        if (created) return created;
        const r = rec as HitlRecord;
        const now = await s.getHitlRequest(r);
        return !!now && now.tryNumber === r.tryNumber && now.createdAt === r.createdAt;
      },
      setHitlTaskToken: async ([key, tryNumber, token]: unknown[], set: unknown) => {
        if (set) return set;
        const now = await s.getHitlRequest(key as TiKey);
        return !!now && now.tryNumber === tryNumber && now.taskToken === token;
      },
      respondHitl: async ([, tryNumber, response]: unknown[], result: unknown) => {
        const r = result as HitlRespondResult;
        const rec = r.record;
        if (r.applied || !rec || rec.tryNumber !== tryNumber || !rec.response) return r;
        return { applied: canonicalJson(rec.response) === canonicalJson(response), record: rec } satisfies HitlRespondResult;
      },
    };
  }
}

const RESILIENT = Symbol.for('airless.resilientStore');

/**
 * The `applied` flags of a bulk write re-checked: each request reported not applied whose instance
 * shows it applied (`done`) is flagged applied. Null when none changed.
 */
async function recheck<R extends { key: TiKey }>(
  list: readonly R[],
  applied: readonly boolean[],
  read: (key: TiKey) => Promise<TaskInstanceRecord | undefined>,
  done: (now: TaskInstanceRecord | undefined, r: R) => boolean,
): Promise<boolean[] | null> {
  const flags = [...applied];
  let changed = false;
  for (let i = 0; i < list.length; i++) {
    if (flags[i]) continue;
    const r = list[i]!;
    if (done(await read(r.key), r)) flags[i] = changed = true;
  }
  return changed ? flags : null;
}

function emptyState(run: RunRef, taskId: string): TaskStateRecord {
  const tally = () => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0 });
  return { dagId: run.dagId, runId: run.runId, taskId, upstream: tally(), upstreamAddedTotal: 0, upstreamExpanded: 0, self: tally(), decision: null, mapCount: null };
}

/**
 * Whether every field of `patch` has its value in `record` (compared as JSON with sorted keys: a store may
 * give an object field, e.g. an error, back with its keys in another order).
 */
function matches<T extends object>(record: T, patch: Partial<T>): boolean {
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (canonicalJson((record as Record<string, unknown>)[k]) !== canonicalJson(v)) return false;
  }
  return true;
}

/**
 * Whether a conditional instance update applied: the instance holds the patch, at the try the patch
 * sets (or the try expected when the patch keeps it).
 */
function applied(now: TaskInstanceRecord, expect: TiExpectation, patch: Partial<TaskInstanceRecord>): boolean {
  if (patch.tryNumber === undefined && expect.tryNumber !== undefined && now.tryNumber !== expect.tryNumber) return false;
  return matches(now, patch);
}
