import type { HitlResponse } from '../core/hitl.ts';
import type { ParamSchema } from '../model/spec.ts';
import type { TiKey } from '../model/keys.ts';

export type { HitlResponse } from '../core/hitl.ts';

/**
 * A human-in-the-loop request: one per try of a `hitl` task instance (a retry or a clear asks again), with
 * its answer once given (or taken at the timeout).
 */
export interface HitlRecord extends TiKey {
  tryNumber: number;
  /** Rendered when the request was made. */
  subject: string;
  body: string | null;
  options: string[];
  multiple: boolean;
  defaults: string[] | null;
  params: Record<string, ParamSchema> | null;
  assignedTo: string[];
  /** ISO-8601 instants. */
  createdAt: string;
  timeoutAt: string | null;
  /** Deployed: the `.waitForTaskToken` state's token, to send the answer to; null locally. */
  taskToken: string | null;
  response: HitlResponse | null;
}

/** Which requests `listHitlRequests` returns (newest first). */
export interface HitlQuery {
  /** true: only those not answered; false: only those answered; absent: both. */
  pending?: boolean;
  dagId?: string;
  /** With `dagId`: one run's. */
  runId?: string;
  limit: number;
  offset?: number;
}

/** What `respondHitl` did: whether this call's answer was the one stored, and the request as it is now. */
export interface HitlRespondResult {
  applied: boolean;
  record: HitlRecord | undefined;
}

/** The human-in-the-loop requests part of the `StateStore` (memory, SQLite, DynamoDB). */
export interface HitlStore {
  /** Store a request, unless one exists for its instance and try (create-if-absent). Whether it was created. */
  putHitlRequest(rec: HitlRecord): Promise<boolean>;
  /** Record the deployed wait's token; only while the request exists and has no answer. Whether it applied. */
  setHitlTaskToken(ti: TiKey, tryNumber: number, token: string): Promise<boolean>;
  /**
   * Store the answer, conditional on none having been stored (exactly one answer per request). `applied`:
   * this call's was stored; `record`: the request as it is now (undefined when there is none).
   */
  respondHitl(ti: TiKey, tryNumber: number, response: HitlResponse): Promise<HitlRespondResult>;
  /** The request of the instance's latest try that has one. */
  getHitlRequest(ti: TiKey): Promise<HitlRecord | undefined>;
  /** Requests, newest first (by creation, then DAG, run, task, map index); DynamoDB queries, never scans. */
  listHitlRequests(q: HitlQuery): Promise<{ records: HitlRecord[]; total: number }>;
}
