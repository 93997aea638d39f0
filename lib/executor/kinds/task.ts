import { errorMessage, NonRetriableError, SkipTask } from '../../errors.ts';
import type { IterateSpec, PlainTaskSpec } from '../../model/spec.ts';
import type { TryResult } from '../../core/events.ts';
import type { TryInfrastructureError } from '../infrastructure.ts';
import { checkJson } from '../json-value.ts';
import { mappingItem, mappingLength, type ResolvedMapping } from '../resolve.ts';
import { partitionMapping, withPartition } from '../partition-items.ts';
import { callCode, type KindRunner, type TryOf, type TryTools } from './kind-runner.ts';

/**
 * Dynamic task iteration: every item inside this one instance, `concurrency` at a time, each retried
 * `itemRetries` times within the try; items done in earlier tries are kept (not run again).
 */
async function iterate({ dag, spec, ti }: TryOf<PlainTaskSpec>, it: IterateSpec, tools: TryTools): Promise<TryResult> {
  const { write } = tools;
  let r: ResolvedMapping;
  if (it.partitioned) {
    // The partition's items (its items function runs under the try's timeout, once: what it gave is kept).
    r = await tools.underTimeout((signal) =>
      partitionMapping({ dag, spec: { ...spec, iterate: it }, ti, io: tools.io, mappingLists: (m) => tools.mappingLists(m), resolve: (t) => tools.resolve(t), context: () => tools.context(signal, null) }),
    );
  } else r = await tools.mappingLists(it.mapping);
  const n = mappingLength(r);
  const done = await tools.io.listItemResults(ti);
  const todo: number[] = [];
  for (let i = 0; i < n; i++) if (!done.has(i)) todo.push(i);
  write('info', `iterating over ${n} items (${done.size} kept from earlier tries, ${todo.length} to run, concurrency ${it.concurrency})`);
  const fn = tools.callable();
  const failures: { index: number; error: string }[] = [];
  let fatal: unknown = null;
  let broken: TryInfrastructureError | null = null;
  let next = 0;
  await tools.underTimeout(async (signal) => {
    const worker = async () => {
      while (next < todo.length && fatal === null && broken === null && !signal.aborted) {
        const index = todo[next++]!;
        const item = mappingItem(r, index);
        for (let attempt = 1; ; attempt++) {
          let value: unknown;
          try {
            const ctx = tools.context(signal, { index, tryNumber: attempt });
            const v = await fn(it.partitioned ? withPartition(ctx, r.partition) : ctx, item);
            value = v === undefined ? null : v;
            checkJson(value, `item ${index} result`);
          } catch (e) {
            if (e instanceof SkipTask) {
              value = null;
            } else if (e instanceof NonRetriableError) {
              fatal = e;
              failures.push({ index, error: errorMessage(e) });
              break;
            } else if (attempt > it.itemRetries) {
              failures.push({ index, error: errorMessage(e) });
              break;
            } else {
              write('warn', `item ${index} try ${attempt} failed: ${errorMessage(e)}; retrying`);
              continue;
            }
          }
          // Outside the item's code: a store failure here is the infrastructure's, not the item's.
          try {
            await tools.io.putItemResult(ti, index, value);
          } catch (e) {
            broken ??= e as TryInfrastructureError;
            throw e;
          }
          done.set(index, value);
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(it.concurrency, todo.length) }, worker));
  });
  if (failures.length) {
    failures.sort((a, b) => a.index - b.index);
    for (const f of failures) write('error', `item ${f.index} failed: ${f.error}`);
    const msg = `${failures.length} of ${n} items failed (first: item ${failures[0]!.index}: ${failures[0]!.error}); ${done.size} done are kept for the next try`;
    if (fatal) throw new NonRetriableError(msg);
    throw new Error(msg);
  }
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = done.get(i);
  await tools.storeResult(out);
  return { kind: 'success' };
}

/** `task()`: its code's result is its XCom; iterating, every item runs inside the try. */
export const taskRunner: KindRunner<PlainTaskSpec> = {
  runsCode: true,
  async runTry(t, tools) {
    if (t.spec.iterate !== null) return iterate(t, t.spec.iterate, tools);
    await tools.storeResult(await callCode(tools));
    return { kind: 'success' };
  },
};
