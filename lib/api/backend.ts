import type { Dag } from '../authoring/dag.ts';
import type { BundleSource } from '../dagbag/bundle-source.ts';
import type { DagFileImportError } from '../dagbag/import-error.ts';
import type { DagResolver } from '../scheduler/host.ts';
import type { Driven } from '../scheduler/effects.ts';
import type { StateStore } from '../store/state-store.ts';

/** The DAGs the API serves: a DagBag fits. */
export type ApiDags = DagResolver & {
  dagIds: string[];
  importErrors: readonly DagFileImportError[];
  dags: readonly Dag[];
  /** Import errors known to concern a DAG (DagBag has it); absent: none are attributed. */
  importErrorsFor?(dagId: string): readonly DagFileImportError[];
  /** DAGs whose file fails to import now, as last loaded: listed, with their runs, never triggered. Absent: none. */
  broken?(): readonly Dag[];
  /** One of {@link broken}, by id. */
  brokenDag?(dagId: string): Dag | undefined;
};

/** What the API's routes act on: the same for the standalone server and the deployed function. */
export interface ApiBackend {
  store: StateStore;
  dags: ApiDags;
  /**
   * Run fn with a scheduler whose steps (`run`) have their effects carried out: locally by the
   * LocalRunner; deployed, by an InvocationHost whose SfnDispatcher starts executions once fn has ended
   * (also when it threw).
   */
  withScheduler<T>(fn: (driven: Driven) => Promise<T>): Promise<T>;
  /** Called after the API paused, unpaused or deleted a DAG (the standalone re-arms its schedule). Absent: nothing. */
  dagChanged?(dagId: string): Promise<void>;
  /** The next scheduled run's logical date of a DAG (null if none), as the schedule loop will fire it. Absent: always null. */
  nextRun?(dagId: string): Promise<string | null>;
  /**
   * Where the code of DAG versions is read (the local bundle store; deployed, the stack's bucket): the
   * `dagVersions` routes serve a version's files from it. Absent: no version's code is available (its
   * `files` are null and its sources 404).
   */
  bundles?: BundleSource;
  /** The time (default: the system clock). */
  now?(): Date;
}

/** Who may call the API. */
export type ApiAuth =
  /** Every route but health needs `Authorization: Bearer <token>`. */
  | {
      mode: 'token';
      token: string;
      /**
       * The user the token stands for: who answers human-in-the-loop requests through this API.
       * @default none (the caller is unknown: only requests assigned to nobody can be answered)
       */
      user?: string;
    }
  /** AWS checked SigV4 before the request arrived (a Function URL with AuthType AWS_IAM): no check here. */
  | { mode: 'iam' };

export interface ApiOptions {
  /** What the routes act on. */
  backend: ApiBackend;
  auth: ApiAuth;
  /** Folder of the built UI, served at '/' (with index.html for other non-API GET paths). Default: none. */
  uiDir?: string | null;
  /**
   * Fastify's request logging (pino lines on stdout, or on `stream`), secrets redacted. Default false (errors
   * answered 500 are still written to stderr, redacted too).
   */
  logger?: boolean | { stream: { write(line: string): void } };
}
