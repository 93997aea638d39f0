/**
 * The subset of the Amazon States Language (JSONPath query language) that the compiler emits, as a
 * discriminated union on `Type`. Field names are ASL's own, so a value of these types is the JSON that
 * Step Functions reads. Only fields the compiler uses are declared: anything else is a type error.
 */

/** A JSON value, as carried in `Parameters`, `Result` and payload templates. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A payload template: keys ending in `.$` hold a JSONPath or an intrinsic function call. */
export type PayloadTemplate = { [key: string]: JsonValue };

/** Retry policy of a Task or Map state, for errors matching `ErrorEquals`. */
export interface Retrier {
  ErrorEquals: string[];
  /** Seconds before the first retry (ASL default 1). */
  IntervalSeconds?: number;
  /** Retries after the first attempt; 0 means never retry (ASL default 3). */
  MaxAttempts?: number;
  /** Multiplier of the interval after each retry (ASL default 2). */
  BackoffRate?: number;
  /** Cap on any one interval. */
  MaxDelaySeconds?: number;
  /** `FULL` picks each interval at random below its computed value, spreading retries of many executions. */
  JitterStrategy?: 'FULL' | 'NONE';
}

/** Where an error goes when retries (if any) are exhausted. The error output is `{Error, Cause}`. */
export interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string | null;
  Next: string;
}

/** How a state ends: a transition or the end of its state machine. */
export type Transition = { Next: string; End?: never } | { End: true; Next?: never };

export type TaskState = Transition & {
  Type: 'Task';
  Comment?: string;
  Resource: string;
  Parameters?: PayloadTemplate;
  /** Seconds the task may run before it fails with `States.Timeout`. */
  TimeoutSeconds?: number;
  /** The same, read from the state's input (a per-task setting of a shared lifecycle machine). */
  TimeoutSecondsPath?: string;
  ResultSelector?: PayloadTemplate;
  ResultPath?: string | null;
  OutputPath?: string | null;
  Retry?: Retrier[];
  Catch?: Catcher[];
};

export type PassState = Transition & {
  Type: 'Pass';
  Comment?: string;
  InputPath?: string | null;
  Parameters?: PayloadTemplate;
  Result?: JsonValue;
  ResultPath?: string | null;
  OutputPath?: string | null;
};

export type WaitState = Transition & {
  Type: 'Wait';
  Comment?: string;
} & (
    | { Seconds: number; SecondsPath?: never; Timestamp?: never; TimestampPath?: never }
    | { SecondsPath: string; Seconds?: never; Timestamp?: never; TimestampPath?: never }
    | { TimestampPath: string; Seconds?: never; SecondsPath?: never; Timestamp?: never }
  );

/** One comparison of a Choice rule (the operators the compiler uses). */
export type ChoiceComparison =
  | { Variable: string; StringEquals: string }
  | { Variable: string; BooleanEquals: boolean }
  | { Variable: string; IsNull: boolean }
  | { Variable: string; IsPresent: boolean }
  | { Variable: string; NumericLessThanPath: string };

/** A Choice rule: a comparison, or the negation of one. */
export type ChoiceRule = (ChoiceComparison | { Not: ChoiceComparison }) & { Next: string };

export interface ChoiceState {
  Type: 'Choice';
  Comment?: string;
  Choices: ChoiceRule[];
  Default?: string;
}

/** `INLINE` runs every iteration inside this execution; `DISTRIBUTED` runs each as a child execution. */
export type ProcessorConfig = { Mode: 'INLINE' } | { Mode: 'DISTRIBUTED'; ExecutionType: 'STANDARD' | 'EXPRESS' };

/** The state machine each iteration of a Map state runs. */
export interface ItemProcessor {
  ProcessorConfig: ProcessorConfig;
  StartAt: string;
  States: Record<string, AslState>;
}

/**
 * Where a Distributed Map reads its items: a JSON file in S3 holding an array (`ReaderConfig.InputType:
 * JSON`) read with `s3:getObject`; `Parameters` name the object (`Bucket`, `Key`, or `Bucket.$`/`Key.$`
 * paths into the Map state's input).
 */
export interface ItemReader {
  Resource: string;
  ReaderConfig: { InputType: 'JSON' };
  Parameters: PayloadTemplate;
}

/**
 * Where a Distributed Map writes its child executions' results (`s3:putObject` under `Parameters.Bucket`
 * / `Parameters.Prefix`): the Map's output is then `{ MapRunArn, ResultWriterDetails: { Bucket, Key } }`,
 * the key of the run's `manifest.json`, instead of the results themselves.
 */
export interface ResultWriter {
  Resource: string;
  Parameters: PayloadTemplate;
}

/** Where a Map state's items come from: a path into its input, or (Distributed Map) an S3 object. */
export type MapItemSource = { ItemsPath: string; ItemReader?: never } | { ItemReader: ItemReader; ItemsPath?: never };

export type MapState = Transition &
  MapItemSource & {
    Type: 'Map';
    Comment?: string;
    ItemSelector?: PayloadTemplate;
    /** Iterations running at once; 0 means as many as Step Functions allows (10,000 child executions for a Distributed Map). */
    MaxConcurrency?: number;
    /** The same, read from the state's input (a per-task setting of a shared lifecycle machine). */
    MaxConcurrencyPath?: string;
    /** Distributed Map: the percentage of child executions that may fail before the Map Run fails (default 0). */
    ToleratedFailurePercentage?: number;
    ItemProcessor: ItemProcessor;
    /** Distributed Map only. */
    ResultWriter?: ResultWriter;
    ResultSelector?: PayloadTemplate;
    ResultPath?: string | null;
    Retry?: Retrier[];
    Catch?: Catcher[];
  };

export interface SucceedState {
  Type: 'Succeed';
  Comment?: string;
  /** The part of the state that becomes the output (of the execution, or of a Map iteration). */
  OutputPath?: string;
}

export interface FailState {
  Type: 'Fail';
  Comment?: string;
  Error: string;
  Cause: string;
}

/** Every state the compiler emits. */
export type AslState = TaskState | PassState | WaitState | ChoiceState | MapState | SucceedState | FailState;

export type AslStateType = AslState['Type'];

/** A whole state machine definition (what `DefinitionBody.fromString(JSON.stringify(...))` embeds). */
export interface StateMachineDefinition {
  Comment: string;
  StartAt: string;
  States: Record<string, AslState>;
}
