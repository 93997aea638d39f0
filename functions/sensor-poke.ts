/**
 * The sensor-poke function: one poke of a sensor (`{mode: 'poke', key, tryNumber}`); not yet is a
 * `defer`, which the scheduler turns into a `wait` until the next poke. The poke's AbortSignal fires
 * before the Lambda timeout.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { handleTaskRunnerRequest } from '../lib/aws/handlers.ts';
import type { SensorPokeRequest } from '../lib/compiler/contract.ts';
import { earlyTimeout } from './shared/early-timeout.ts';
import { functionServices, logger } from './shared/runtime.ts';
import { maskConsole } from '../lib/secrets/masker.ts';

// What task code writes to the console reaches CloudWatch Logs with its secrets masked (lib/secrets/masker.ts).
maskConsole();

const timeout = earlyTimeout();

export const handler = middy(
  (event: SensorPokeRequest, _context: unknown, { signal }: { signal: AbortSignal }) => {
    if (event.mode !== 'poke') throw new TypeError(`the sensor-poke function only pokes (mode 'poke'), got mode '${String(event.mode)}'`);
    return timeout.run(signal, (s) => handleTaskRunnerRequest(event, functionServices(), s));
  },
  timeout.options,
).use(injectLambdaContext(logger, { resetKeys: true }));
