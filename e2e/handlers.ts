/**
 * The Lambda functions the harness invokes, two ways:
 * - `functions` (default): the real handlers of `functions/` (middy, Powertools logger, the early
 *   timeout), called with a Lambda context; their services are the harness's (`overrideServices`), built
 *   by the same `servicesFromEnv` as in a deployed container. They import the bundle-time module
 *   `airless-dags`, which the e2e vitest config aliases to e2e/airless-dags.ts (and
 *   {@link registerDagsAlias} maps for plain Node).
 * - `core`: the cores in lib/aws that those handlers wrap (`handleSchedulerRequest`, ...), with the
 *   same services: for a process that cannot alias `airless-dags`.
 */
import { registerHooks } from 'node:module';
import { handleDescribeJobs } from '../lib/aws/describe-jobs.ts';
import { handleSchedulerRequest, handleTaskRunnerRequest } from '../lib/aws/handlers.ts';
import { handleTriggerEvent } from '../lib/aws/scheduled-trigger.ts';
import { servicesFromEnv, type FunctionServices, type ServiceOverrides } from '../lib/aws/services.ts';
import type { DagResolver } from '../lib/scheduler/host.ts';
import type { LambdaHandler } from './local-lambda.ts';

export type HandlerMode = 'functions' | 'core';

/** The harness's functions, by role. */
export interface FunctionSet {
  scheduler: LambdaHandler;
  taskRunner: LambdaHandler;
  sensorPoke: LambdaHandler;
  trigger: LambdaHandler;
  describeJobs: LambdaHandler;
}

let aliasRegistered = false;

/** Resolve `airless-dags` to e2e/airless-dags.ts in Node's own module loader (plain Node, tsx). */
export function registerDagsAlias(): void {
  if (aliasRegistered) return;
  aliasRegistered = true;
  const url = new URL('./airless-dags.ts', import.meta.url).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === 'airless-dags') return { url, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

/** The handlers of functions/, with the harness's services. */
export async function loadFunctions(overrides: ServiceOverrides): Promise<FunctionSet> {
  registerDagsAlias();
  // The functions' Powertools logger logs every invocation at INFO: errors only, unless a level was chosen.
  process.env['POWERTOOLS_LOG_LEVEL'] ??= 'ERROR';
  const runtime = await import('../functions/shared/runtime.ts');
  runtime.overrideServices(overrides);
  const [scheduler, taskRunner, sensorPoke, trigger, describeJobs] = await Promise.all([
    import('../functions/scheduler.ts'),
    import('../functions/task-runner.ts'),
    import('../functions/sensor-poke.ts'),
    import('../functions/trigger.ts'),
    import('../functions/describe-jobs.ts'),
  ]);
  const h = (m: { handler: unknown }) => m.handler as LambdaHandler;
  return { scheduler: h(scheduler), taskRunner: h(taskRunner), sensorPoke: h(sensorPoke), trigger: h(trigger), describeJobs: h(describeJobs) };
}

/** The lib/aws cores, with the harness's services. */
export function coreFunctions(dags: DagResolver, overrides: ServiceOverrides): FunctionSet {
  const svc: FunctionServices = servicesFromEnv(dags, {}, overrides);
  return {
    scheduler: (e) => handleSchedulerRequest(e, svc),
    taskRunner: (e) => handleTaskRunnerRequest(e, svc),
    sensorPoke: (e) => handleTaskRunnerRequest(e, svc),
    trigger: (e) => handleTriggerEvent(e, svc),
    describeJobs: (e) => handleDescribeJobs(e, svc, svc.batch),
  };
}
