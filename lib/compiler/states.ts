/**
 * One function per state kind, each rendering only itself with a fixed key order (so that compiled
 * definitions are byte-for-byte stable). Transitions are given as `next`: a state id, or `null` for
 * `End: true`. The graph that checks ids and references is {@link StateGraph}.
 */
import type {
  Catcher,
  ChoiceRule,
  ChoiceState,
  FailState,
  ItemProcessor,
  ItemReader,
  JsonValue,
  MapState,
  PassState,
  PayloadTemplate,
  Retrier,
  ResultWriter,
  SucceedState,
  TaskState,
  Transition,
  WaitState,
} from './asl-types.ts';

/** `next: null` ends the state machine (or the Map iteration) at this state. */
export type Next = string | null;

function transition(next: Next): Transition {
  return next === null ? { End: true } : { Next: next };
}

export interface TaskProps {
  comment?: string;
  resource: string;
  parameters?: PayloadTemplate;
  timeoutSeconds?: number | null;
  /** A path to the timeout in the state's input (instead of `timeoutSeconds`). */
  timeoutSecondsPath?: string;
  resultSelector?: PayloadTemplate;
  resultPath?: string | null;
  outputPath?: string | null;
  retry?: Retrier[];
  catch?: Catcher[];
  next: Next;
}

export function taskState(p: TaskProps): TaskState {
  return {
    Type: 'Task',
    ...(p.comment !== undefined ? { Comment: p.comment } : {}),
    Resource: p.resource,
    ...(p.parameters !== undefined ? { Parameters: p.parameters } : {}),
    ...(p.timeoutSeconds !== undefined && p.timeoutSeconds !== null ? { TimeoutSeconds: p.timeoutSeconds } : {}),
    ...(p.timeoutSecondsPath !== undefined ? { TimeoutSecondsPath: p.timeoutSecondsPath } : {}),
    ...(p.resultSelector !== undefined ? { ResultSelector: p.resultSelector } : {}),
    ...(p.resultPath !== undefined ? { ResultPath: p.resultPath } : {}),
    ...(p.outputPath !== undefined ? { OutputPath: p.outputPath } : {}),
    ...(p.retry?.length ? { Retry: p.retry } : {}),
    ...(p.catch?.length ? { Catch: p.catch } : {}),
    ...transition(p.next),
  };
}

export interface PassProps {
  comment?: string;
  inputPath?: string | null;
  parameters?: PayloadTemplate;
  result?: JsonValue;
  resultPath?: string | null;
  outputPath?: string | null;
  next: Next;
}

export function passState(p: PassProps): PassState {
  return {
    Type: 'Pass',
    ...(p.comment !== undefined ? { Comment: p.comment } : {}),
    ...(p.inputPath !== undefined ? { InputPath: p.inputPath } : {}),
    ...(p.parameters !== undefined ? { Parameters: p.parameters } : {}),
    ...(p.result !== undefined ? { Result: p.result } : {}),
    ...(p.resultPath !== undefined ? { ResultPath: p.resultPath } : {}),
    ...(p.outputPath !== undefined ? { OutputPath: p.outputPath } : {}),
    ...transition(p.next),
  };
}

/** Exactly one way to say how long: fixed seconds, seconds from the input, or a timestamp from the input. */
export type WaitFor = { seconds: number } | { secondsPath: string } | { timestampPath: string };

export function waitState(p: { comment?: string; for: WaitFor; next: Next }): WaitState {
  const w = p.for;
  const duration = 'seconds' in w ? { Seconds: w.seconds } : 'secondsPath' in w ? { SecondsPath: w.secondsPath } : { TimestampPath: w.timestampPath };
  return {
    Type: 'Wait',
    ...(p.comment !== undefined ? { Comment: p.comment } : {}),
    ...duration,
    ...transition(p.next),
  };
}

export function choiceState(p: { comment?: string; choices: ChoiceRule[]; default?: string }): ChoiceState {
  return {
    Type: 'Choice',
    ...(p.comment !== undefined ? { Comment: p.comment } : {}),
    Choices: p.choices,
    ...(p.default !== undefined ? { Default: p.default } : {}),
  };
}

export interface MapProps {
  comment?: string;
  /** The items: a path into the input, or (Distributed Map) an S3 object. */
  items: { path: string } | { reader: ItemReader };
  itemSelector?: PayloadTemplate;
  /** Iterations at once: a number, or a path into the state's input. */
  maxConcurrency: number | { path: string };
  toleratedFailurePercentage?: number;
  itemProcessor: ItemProcessor;
  resultWriter?: ResultWriter;
  resultSelector?: PayloadTemplate;
  resultPath?: string | null;
  retry?: Retrier[];
  catch?: Catcher[];
  next: Next;
}

export function mapState(p: MapProps): MapState {
  return {
    Type: 'Map',
    ...(p.comment !== undefined ? { Comment: p.comment } : {}),
    ...('path' in p.items ? { ItemsPath: p.items.path } : { ItemReader: p.items.reader }),
    ...(p.itemSelector !== undefined ? { ItemSelector: p.itemSelector } : {}),
    ...(typeof p.maxConcurrency === 'number' ? { MaxConcurrency: p.maxConcurrency } : { MaxConcurrencyPath: p.maxConcurrency.path }),
    ...(p.toleratedFailurePercentage !== undefined ? { ToleratedFailurePercentage: p.toleratedFailurePercentage } : {}),
    ItemProcessor: p.itemProcessor,
    ...(p.resultWriter !== undefined ? { ResultWriter: p.resultWriter } : {}),
    ...(p.resultSelector !== undefined ? { ResultSelector: p.resultSelector } : {}),
    ...(p.resultPath !== undefined ? { ResultPath: p.resultPath } : {}),
    ...(p.retry?.length ? { Retry: p.retry } : {}),
    ...(p.catch?.length ? { Catch: p.catch } : {}),
    ...transition(p.next),
  };
}

export function succeedState(p: { comment?: string; outputPath?: string } = {}): SucceedState {
  return { Type: 'Succeed', ...(p.comment !== undefined ? { Comment: p.comment } : {}), ...(p.outputPath !== undefined ? { OutputPath: p.outputPath } : {}) };
}

export function failState(p: { comment?: string; error: string; cause: string }): FailState {
  return { Type: 'Fail', ...(p.comment !== undefined ? { Comment: p.comment } : {}), Error: p.error, Cause: p.cause };
}
