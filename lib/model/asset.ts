// TEMPORARY copy of the assets contract's types (assets-core owns this file): replaced by assets-core's at the merge.
export interface AssetSpec {
  uri: string;
  name: string;
  group: string;
  extra: Record<string, unknown>;
  watchers?: AssetWatcherSpec[];
}
export type AssetWatcherKind = AssetWatcherSpec['kind'];
export type AssetWatcherSpec =
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'sqs'; queueArn: string }
  | { kind: 'eventbridge'; eventPattern: Record<string, unknown>; eventBusName: string | null }
  | { kind: 'file'; path: string };
export type AssetEventSource =
  | { kind: 'task'; dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number }
  | { kind: 'api'; user: string | null }
  | { kind: 'watcher'; watcher: AssetWatcherKind; detail: Record<string, unknown> };
export interface AssetEventRecord {
  id: string;
  uri: string;
  assetId: string;
  extra: Record<string, unknown>;
  timestamp: string;
  source: AssetEventSource;
  dedupeKey: string;
  createdRuns: { dagId: string; runId: string }[];
}
