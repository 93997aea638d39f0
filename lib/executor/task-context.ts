import type { Dag } from '../authoring/dag.ts';
import type { OutletEventAccessor, PipelineContextApi, PipelineState, RunType, TaskContext, TaskLogger } from '../authoring/context.ts';
import { isAsset, type Asset } from '../authoring/assets.ts';
import type { AssetEvent } from '../model/asset.ts';
import { outletAccessor } from './outlet-events.ts';
import { iso } from '../model/time.ts';
import type { DagRunRecord, LogLine, TaskInstanceRecord } from '../store/records.ts';
import { retryTransient, type RetryOptions } from '../store/retry.ts';
import type { StateStore } from '../store/state-store.ts';
import { checkJson } from './json-value.ts';
import { processSecretsBackend } from '../secrets/backends.ts';
import { connectionsApi, SecretLookup, variablesApi, type ConnectionsApi, type VariablesApi } from '../secrets/lookup.ts';

export type LogWriter = (level: LogLine['level'], message: string) => void;

export function formatArgs(message: string, args: unknown[]): string {
  if (!args.length) return message;
  const parts = [message];
  for (const a of args) {
    if (typeof a === 'string') parts.push(a);
    else {
      try {
        parts.push(JSON.stringify(a));
      } catch {
        parts.push(String(a));
      }
    }
  }
  return parts.join(' ');
}

/**
 * The context a task's code receives. A class, so that a try costs one object: the logger, the pipeline
 * API and the logical date are made only when the code asks for them.
 */
export class TaskContextImpl implements TaskContext {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number | null;
  readonly tryNumber: number;
  readonly maxTries: number;
  readonly runType: RunType;
  readonly params: Record<string, any>;
  readonly conf: Readonly<Record<string, unknown>>;
  /** A partitioned iteration's partition, set by whoever runs its items (lib/executor/partition-items.ts). */
  partition?: unknown;
  private logger: TaskLogger | null = null;
  private pipelineApi: PipelineContextApi | null = null;
  private secretLookup: SecretLookup | null = null;

  constructor(
    private readonly store: StateStore,
    private readonly now: () => number,
    private readonly dag: Dag,
    private readonly run: DagRunRecord,
    private readonly ti: TaskInstanceRecord,
    readonly signal: AbortSignal,
    private readonly write: LogWriter,
    readonly item: TaskContext['item'],
    /** Store calls made for the task's code are retried while the store fails transiently; what is left is the code's error. */
    private readonly retry?: RetryOptions,
  ) {
    this.dagId = dag.dagId;
    this.runId = run.runId;
    this.taskId = ti.taskId;
    this.mapIndex = ti.mapIndex < 0 ? null : ti.mapIndex;
    this.tryNumber = ti.tryNumber;
    this.maxTries = ti.maxTries;
    this.runType = run.runType;
    this.params = run.params;
    this.conf = run.conf;
  }

  get logicalDate(): Date {
    return new Date(this.run.logicalDate);
  }

  get log(): TaskLogger {
    const w = this.write;
    return (this.logger ??= {
      info: (m, ...a) => w('info', formatArgs(m, a)),
      warn: (m, ...a) => w('warn', formatArgs(m, a)),
      error: (m, ...a) => w('error', formatArgs(m, a)),
    });
  }

  /** Environment, then the process's secrets backend, then the store (each store call retried as the pipeline's are). */
  private get lookup(): SecretLookup {
    const { store, retry } = this;
    return (this.secretLookup ??= new SecretLookup({
      backend: processSecretsBackend(),
      store: {
        getVariable: (key) => retryTransient(() => store.getVariable(key), retry),
        getConnection: (id) => retryTransient(() => store.getConnection(id), retry),
      },
    }));
  }

  get variables(): VariablesApi {
    return variablesApi(this.lookup);
  }

  get connections(): ConnectionsApi {
    return connectionsApi(this.lookup);
  }

  get pipeline(): PipelineContextApi {
    const { store, run, dag, ti, now, retry } = this;
    return (this.pipelineApi ??= {
      async load(): Promise<PipelineState> {
        const history = await retryTransient(() => store.listPipelineSaves(run.pipelineScope), retry);
        const stages: Record<string, unknown> = {};
        for (const h of history) stages[h.stage] = h.data;
        return { stages, history };
      },
      async save(stage: string, data: unknown): Promise<void> {
        if (typeof stage !== 'string' || !stage) throw new Error('pipeline.save: stage must be a non-empty string');
        checkJson(data, `pipeline.save('${stage}')`);
        const save = { stage, time: iso(now()), data, dagId: dag.dagId, runId: run.runId, taskId: ti.taskId };
        await retryTransient(() => store.appendPipelineSave(run.pipelineScope, save), retry);
      },
    });
  }

  async xcomPull<T>(taskId: string, options?: { mapIndex?: number | null; key?: string }): Promise<T | undefined> {
    const key = options?.key ?? 'return_value';
    const up = this.dag.taskIndex.get(taskId);
    if (!up) throw new Error(`xcomPull: no task '${taskId}' in DAG '${this.dag.dagId}'`);
    if (up.mapping && (options?.mapIndex === undefined || options.mapIndex === null)) {
      return (await retryTransient(() => this.store.listXComs(this.run, taskId, key), this.retry)).map((x) => x.value) as T;
    }
    return (await retryTransient(() => this.store.getXCom(this.run, taskId, options?.mapIndex ?? -1, key), this.retry))?.value as T | undefined;
  }

  outletEvents(asset: Asset): OutletEventAccessor {
    if (!isAsset(asset)) throw new Error(`ctx.outletEvents: expected an asset (made by asset()), got ${JSON.stringify(asset)}`);
    const outlets = this.dag.taskIndex.get(this.ti.taskId)?.outlets ?? [];
    if (!outlets.includes(asset.uri)) {
      throw new Error(`ctx.outletEvents: '${asset.uri}' is not an outlet of task '${this.ti.taskId}' (its outlets: ${outlets.length ? outlets.join(', ') : 'none'})`);
    }
    return outletAccessor(this.ti, asset.uri);
  }

  get triggeringAssetEvents(): Readonly<Record<string, readonly AssetEvent[]>> {
    const out: Record<string, AssetEvent[]> = {};
    for (const e of this.run.triggeringAssetEvents ?? []) (out[e.uri] ??= []).push(e);
    return out;
  }

  async xcomPush(key: string, value: unknown): Promise<void> {
    if (key === 'return_value') throw new Error(`xcomPush: 'return_value' is reserved for the task's result`);
    checkJson(value, `xcomPush('${key}')`);
    const x = { dagId: this.run.dagId, runId: this.run.runId, taskId: this.ti.taskId, mapIndex: this.ti.mapIndex, key, value };
    await retryTransient(() => this.store.putXCom(x), this.retry);
  }
}
