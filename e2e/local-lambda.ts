/**
 * The Lambda service of the harness: the functions by name (and ARN), invoked in this process with a
 * Lambda context, the payload and the reply passed through JSON as Lambda passes them. A function that
 * throws fails the invocation as Lambda reports it to Step Functions: the error's name is the ASL error
 * and the cause is `{"errorMessage", "errorType", "trace"}` as JSON.
 *
 * Each invocation counts in the meter for the task instance its payload names, and holds the clock.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { HarnessClock } from './harness-clock.ts';
import { keyOfPayload, type Meter } from './meter.ts';

/** A handler as Lambda calls it (middy handlers qualify). */
export type LambdaHandler = (event: any, context: Context) => Promise<unknown>;

/** One invocation, as an interceptor sees it. */
export interface Invocation {
  functionName: string;
  payload: unknown;
}

/**
 * Wraps every invocation: call `invoke` (once, twice, not at all) and return the reply Step Functions
 * gets. For tests that deliver events twice, or lose them.
 */
export type Interceptor = (call: Invocation, invoke: () => Promise<unknown>) => Promise<unknown>;

/** The error Step Functions gets when a function throws. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

/** Seconds a function may run (the deployed functions' timeout, for getRemainingTimeInMillis). */
export const FUNCTION_TIMEOUT_SECONDS = 900;

export class LocalLambda {
  private readonly byName = new Map<string, { name: string; arn: string; handler: LambdaHandler }>();
  /** See {@link Interceptor}. */
  interceptor: Interceptor | null = null;

  constructor(
    private readonly o: { meter: Meter; clock: HarnessClock; region?: string; accountId?: string },
  ) {}

  /** Register a function; returns its ARN (it answers to its name too). */
  register(name: string, handler: LambdaHandler): string {
    const arn = `arn:aws:lambda:${this.o.region ?? 'us-east-1'}:${this.o.accountId ?? '000000000000'}:function:${name}`;
    const f = { name, arn, handler };
    this.byName.set(name, f);
    this.byName.set(arn, f);
    return arn;
  }

  arn(name: string): string {
    const f = this.byName.get(name);
    if (!f) throw new Error(`no function '${name}'`);
    return f.arn;
  }

  /** The function's name from a name or an ARN. */
  nameOf(functionName: string): string {
    return this.byName.get(functionName)?.name ?? functionName;
  }

  /** Invoke a function (by name or ARN) with `payload`; its reply, or a {@link LambdaFunctionError}. */
  async invoke(functionName: string, payload: unknown): Promise<unknown> {
    const f = this.byName.get(functionName);
    if (!f) throw new LambdaFunctionError('Lambda.ResourceNotFoundException', `Function not found: ${functionName}`);
    const event: unknown = JSON.parse(JSON.stringify(payload ?? null));
    const call = () => this.call(f, event);
    const i = this.interceptor;
    return i ? i({ functionName: f.name, payload: event }, call) : call();
  }

  private call(f: { name: string; arn: string; handler: LambdaHandler }, event: unknown): Promise<unknown> {
    const key = keyOfPayload(event);
    return this.o.meter.run(key, () =>
      this.o.clock.track(async () => {
        this.o.meter.add(null, (c) => {
          c.lambdaInvocations++;
          c.lambdaByFunction[f.name] = (c.lambdaByFunction[f.name] ?? 0) + 1;
        });
        let reply: unknown;
        try {
          reply = await f.handler(event, lambdaContext(f.name, f.arn));
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          const errorType = err.name || 'Error';
          throw new LambdaFunctionError(errorType, JSON.stringify({ errorMessage: err.message, errorType, trace: (err.stack ?? '').split('\n') }));
        }
        return reply === undefined ? null : (JSON.parse(JSON.stringify(reply)) as unknown);
      }),
    );
  }
}

/** A Lambda context as the runtime gives it (what middy and the Powertools logger read). */
export function lambdaContext(name: string, arn: string): Context {
  const deadline = Date.now() + FUNCTION_TIMEOUT_SECONDS * 1000;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: arn,
    memoryLimitInMB: '128',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `2026/01/01/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
