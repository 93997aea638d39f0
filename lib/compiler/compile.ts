import type { ErrorLocation } from '../errors.ts';
import type { DagSpec, TaskKind, TaskSpec } from '../model/spec.ts';
import type { StateMachineDefinition } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import type { CompileOptions } from './compile-options.ts';
import type { PolicyStatement } from './iam.ts';
import { kindCompiler, type LifecycleKind } from './kinds/index.ts';
import { StateGraph } from './state-graph.ts';
import { chooseWorkflowType, type WorkflowTypeChoice } from './workflow-type.ts';

/** One task's compiled state machine. */
export interface CompiledLifecycle {
  taskId: string;
  kind: TaskKind;
  lifecycle: Exclude<LifecycleKind, 'none'>;
  workflowType: WorkflowTypeChoice;
  /** Plain JSON: embed it with `DefinitionBody.fromString(JSON.stringify(definition))`. */
  definition: StateMachineDefinition;
  /**
   * What the state machine's role needs, as its integrations declare it (iam.ts): the deployment grants
   * exactly these, its `${...}` placeholders resolved.
   */
  statements: PolicyStatement[];
}

function checkOptions(options: CompileOptions, location: ErrorLocation): void {
  for (const name of ['taskRunnerArn', 'schedulerArn', 'sensorPokeArn'] as const) {
    const v: unknown = options[name];
    if (typeof v !== 'string' || v.length === 0) throw new AslCompileError(`option '${name}' must be a non-empty string`, location);
  }
}

function label(location: ErrorLocation): string {
  return [location.dagId !== undefined ? `DAG '${location.dagId}'` : null, `task '${location.taskId ?? '?'}'`].filter((s) => s !== null).join(', ');
}

function compile(spec: TaskSpec, options: CompileOptions, location: ErrorLocation): CompiledLifecycle {
  checkOptions(options, location);
  const compiler = kindCompiler(spec);
  const lifecycle = compiler.lifecycle(spec, options);
  const graph = new StateGraph(location);
  const startAt = compiler.build(graph, spec, options, location);
  if (lifecycle === 'none') throw new AslCompileError(`a ${spec.kind} task built states for a lifecycle of none`, location);
  return {
    taskId: spec.taskId,
    kind: spec.kind,
    lifecycle,
    workflowType: chooseWorkflowType(spec),
    definition: { Comment: `airless ${label(location)} (${spec.kind}): ${lifecycle} lifecycle`, ...graph.render(startAt) },
    statements: graph.statements(),
  };
}

/**
 * Compile one task's lifecycle to an Amazon States Language state machine (see `contract.ts` for what
 * the handlers it invokes receive and return). Throws an {@link AslCompileError} for an `empty` task,
 * which has no state machine, and for a missing function ARN.
 */
export function compileTaskLifecycle(spec: TaskSpec, options: CompileOptions): CompiledLifecycle {
  return compile(spec, options, { taskId: spec.taskId });
}

/** Compile every task of a DAG that runs anything (all but `empty` tasks), in definition order. */
export function compileDag(dag: DagSpec, options: CompileOptions): CompiledLifecycle[] {
  return dag.tasks.filter((t) => t.kind !== 'empty').map((t) => compile(t, options, { dagId: dag.dagId, taskId: t.taskId }));
}
