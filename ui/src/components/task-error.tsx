import type { TaskError } from '../api.ts';

/** The name of a skipped instance's error: its message is why it was skipped. */
const SKIP_NAME = 'SkipTask';

/** Whether an instance's (or a try's) error says why it was skipped rather than how it failed. */
export function isSkipReason(error: TaskError): boolean {
  return error.name === SKIP_NAME;
}

/** An error as one line of text (a tooltip): `Name: message`, or a skip's reason alone. */
export function errorText(error: TaskError): string {
  return isSkipReason(error) ? error.message : `${error.name}: ${error.message}`;
}

/**
 * The frames of an error's stack (`at fn (file:line:col)`, source-mapped to the DAG file's TypeScript where
 * the try ran with source maps), without Node's internals.
 */
export function stackFrames(error: TaskError): string[] {
  return (error.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && !/\(node:|at node:/.test(l))
    .map((l) => l.trim());
}

/** A task instance's (or a try's) error, its name apart from its message, its traceback; a skip's reason as plain text. */
export function TaskErrorView({ error, testId }: { error: TaskError; testId: string }) {
  if (isSkipReason(error)) {
    return (
      <div className="skip-reason" data-testid={testId} data-error-name={error.name}>
        {error.message}
      </div>
    );
  }
  const frames = stackFrames(error);
  return (
    <div className="task-error" role="alert" data-testid={testId} data-error-name={error.name}>
      <span className="task-error-name" data-testid={`${testId}-name`}>
        {error.name}
      </span>
      <pre className="task-error-message" data-testid={`${testId}-message`} tabIndex={0}>
        {error.message}
      </pre>
      {frames.length > 0 && (
        <details className="task-error-stack" data-testid={`${testId}-stack`} open>
          <summary>Traceback</summary>
          <pre tabIndex={0}>{frames.join('\n')}</pre>
        </details>
      )}
    </div>
  );
}
