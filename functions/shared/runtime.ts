// The bundle-time module's declaration, for every program that imports the functions (tests too).
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../airless-dags.d.ts" />
import { Logger } from '@aws-lambda-powertools/logger';
import { dagModules } from 'airless-dags';
import { installDagLibrary } from '../../lib/aws/dag-library-global.ts';
import { dagResolverFromModules, servicesFromEnv, type FunctionServices, type ServiceOverrides } from '../../lib/aws/services.ts';
import type { SchedulerEvent } from '../../lib/scheduler/host.ts';

/** The function's logger (service name from `POWERTOOLS_SERVICE_NAME`, level from `POWERTOOLS_LOG_LEVEL`). */
export const logger = new Logger();

// The library the versions' bundles import as 'airless' (lib/aws/dag-library.ts): this function's own copy.
installDagLibrary();

/**
 * The bundled DAGs, each at its bundle's version; a run on another version (an earlier deploy's) loads it
 * from the bucket (`BUNDLES_PREFIX`) through the services' version loader.
 */
export const dags = dagResolverFromModules(dagModules, { versions: () => functionServices().versions });

function logEvent(e: SchedulerEvent): void {
  switch (e.type) {
    case 'error':
      logger.error(`error in ${e.where}`, { dagId: e.run?.dagId, runId: e.run?.runId, error: e.error instanceof Error ? e.error : String(e.error) });
      return;
    case 'run':
      logger.debug('run', { runId: e.run.runId, dagId: e.run.dagId, state: e.run.state });
      return;
    case 'ti':
      logger.debug('task instance', { runId: e.ti.runId, taskId: e.ti.taskId, mapIndex: e.ti.mapIndex, tryNumber: e.ti.tryNumber, state: e.ti.state });
      return;
  }
}

let services: FunctionServices | undefined;
let overrides: ServiceOverrides = {};

/** The services, built from the environment once per container (lib/aws/services.ts says which variables). */
export function functionServices(): FunctionServices {
  return (services ??= servicesFromEnv(dags, process.env, { onEvent: logEvent, ...overrides }));
}

/**
 * Build the services again, with these in place of what the environment gives: for tests and local
 * harnesses that call the real handlers in-process (e.g. a Dispatcher that runs state machines locally).
 */
export function overrideServices(o: ServiceOverrides): void {
  overrides = o;
  services = undefined;
}
