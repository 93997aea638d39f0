import { errorMessage, UnattributedCrashError } from '../errors.ts';
import { currentTry } from '../executor/task-runner.ts';

/**
 * Task code that crashes in this process (an uncaught exception thrown in a timer, a rejection nobody
 * handles) would end the process, by Node's default. While a runner that guards its tries is open, one
 * pair of `process` handlers turns such a crash into the failure of the try whose code caused it: the
 * try is found by the async context its code ran in (`currentTry`'s owner) (Node runs an 'unhandledRejection' handler in the
 * context of the rejected promise, an 'uncaughtException' handler in the context of the callback that
 * threw), else, when the context says nothing, the one try running, else every try running (the error
 * names the cause and the tries). A crash that no try can be blamed for is left to Node (the process ends,
 * as without the guard), unless someone else listens for it (a test runner).
 */

/** A try running in this process, as the guard sees it. */
export class GuardedTry {
  /** False once the try has ended: a later crash of its code only gets reported. */
  active = true;
  /** Its code runs in a worker thread of its own: a crash of this process is never its code's. */
  isolated = false;
  constructor(
    /** `task 'x'` (map index, try), for messages. */
    readonly label: string,
    readonly runId: string,
    /** Fail the try with this error (abort its signal). */
    readonly fail: (error: unknown) => void,
    /** Its code crashed after the try ended. */
    readonly late: (error: unknown) => void,
  ) {}
}

/** A runner whose tries are guarded: it says which tries are running. */
export interface GuardOwner {
  running(): Iterable<GuardedTry>;
}

const owners = new Set<GuardOwner>();
type Kind = 'uncaughtException' | 'unhandledRejection';
const describe: Record<Kind, string> = { uncaughtException: 'an uncaught exception', unhandledRejection: 'an unhandled rejection' };

function thrown(e: unknown): unknown {
  return e === undefined ? new Error('undefined was thrown') : e;
}

function onCrash(kind: Kind, error: unknown): void {
  const err = thrown(error);
  const owner = currentTry.getStore()?.owner;
  const mine = owner instanceof GuardedTry ? owner : undefined;
  if (mine) {
    if (mine.active) mine.fail(err);
    else mine.late(err);
    return;
  }
  const running: GuardedTry[] = [];
  for (const o of owners) for (const t of o.running()) if (t.active && !t.isolated) running.push(t);
  if (running.length === 1) {
    running[0]!.fail(err);
    return;
  }
  if (running.length > 1) {
    const names = running.map((t) => t.label).join(', ');
    const e = new UnattributedCrashError(`${describe[kind]} (${errorMessage(err)}) happened while ${running.length} tries ran in this process (${names}); it could come from any of them`);
    for (const t of running) t.fail(e);
    return;
  }
  // No try to blame: what Node does without the guard, unless another handler has seen it.
  if (process.listenerCount(kind) > 1) return;
  uninstall();
  process.nextTick(() => {
    throw error;
  });
}

const onUncaught = (e: unknown) => onCrash('uncaughtException', e);
const onRejection = (e: unknown) => onCrash('unhandledRejection', e);
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('uncaughtException', onUncaught);
  process.removeListener('unhandledRejection', onRejection);
}

/** Guard `owner`'s tries until the returned function is called (the handlers go with the last owner). */
export function guardTries(owner: GuardOwner): () => void {
  owners.add(owner);
  install();
  return () => {
    owners.delete(owner);
    if (owners.size === 0) uninstall();
  };
}

/** Whether the process handlers are installed (for tests). */
export function guardInstalled(): boolean {
  return installed;
}
