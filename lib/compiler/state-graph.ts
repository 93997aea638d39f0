import type { ErrorLocation } from '../errors.ts';
import type { AslState, MapState, TaskState } from './asl-types.ts';
import { AslCompileError } from './compile-error.ts';
import { mergeStatements, type PolicyStatement, type WithPolicy } from './iam.ts';

/** A state that calls no service: it needs no permission. */
export type FlowState = Exclude<AslState, TaskState | MapState>;

/** What a graph takes: a flow state as it is, a Task or Map state only with its integration's statements. */
export type GraphState = FlowState | WithPolicy<TaskState | MapState>;

/** Step Functions' limit on the length of a state name. */
export const MAX_STATE_ID_LENGTH = 80;

/** The states a state can move to, with the field that names each. */
function references(state: AslState): { field: string; to: string }[] {
  const out: { field: string; to: string }[] = [];
  switch (state.Type) {
    case 'Choice':
      state.Choices.forEach((c, i) => out.push({ field: `Choices[${i}].Next`, to: c.Next }));
      if (state.Default !== undefined) out.push({ field: 'Default', to: state.Default });
      return out;
    case 'Succeed':
    case 'Fail':
      return out;
    case 'Task':
    case 'Map':
      state.Catch?.forEach((c, i) => out.push({ field: `Catch[${i}].Next`, to: c.Next }));
      if (state.Next !== undefined) out.unshift({ field: 'Next', to: state.Next });
      return out;
    case 'Pass':
    case 'Wait':
      if (state.Next !== undefined) out.push({ field: 'Next', to: state.Next });
      return out;
  }
}

/**
 * The registry of one state machine's states (or of one Map state's ItemProcessor), as CDK's
 * StateGraph: it refuses a state id used twice anywhere in the definition, and on rendering checks
 * that `StartAt` and every transition name a state of the same graph and that every state is reachable.
 * States render in the order they were added, so the output is deterministic. A Task or Map state comes
 * with the IAM statements of its integration (integrations.ts), which the graph collects for the whole
 * definition ({@link statements}).
 */
export class StateGraph {
  private readonly states = new Map<string, AslState>();

  /**
   * @param location names the DAG and task in error messages.
   * @param usedIds ids taken anywhere in the enclosing definition (shared with nested graphs).
   * @param declared the statements of the whole definition (shared with nested graphs).
   */
  constructor(
    private readonly location: ErrorLocation,
    private readonly usedIds: Set<string> = new Set(),
    private readonly declared: PolicyStatement[] = [],
  ) {}

  /**
   * A graph for a Map state's ItemProcessor: its ids must not collide with this graph's either, and the
   * statements of its states are the definition's.
   */
  nested(): StateGraph {
    return new StateGraph(this.location, this.usedIds, this.declared);
  }

  add(id: string, given: GraphState): this {
    const state = 'Type' in given ? given : given.state;
    if (id.length === 0 || id.length > MAX_STATE_ID_LENGTH) {
      throw new AslCompileError(`state id '${id}' must have 1 to ${MAX_STATE_ID_LENGTH} characters`, this.location);
    }
    if (this.usedIds.has(id)) throw new AslCompileError(`duplicate state id '${id}'`, this.location);
    this.usedIds.add(id);
    this.states.set(id, state);
    if (!('Type' in given)) this.declared.push(...given.statements);
    return this;
  }

  /** The IAM statements the definition's states declared (of nested graphs too), merged. */
  statements(): PolicyStatement[] {
    return mergeStatements(this.declared);
  }

  has(id: string): boolean {
    return this.states.has(id);
  }

  render(startAt: string): { StartAt: string; States: Record<string, AslState> } {
    if (!this.states.has(startAt)) throw new AslCompileError(`StartAt '${startAt}' is not a defined state`, this.location);
    for (const [id, state] of this.states) {
      for (const r of references(state)) {
        if (!this.states.has(r.to)) {
          throw new AslCompileError(`state '${id}' goes to '${r.to}' (${r.field}), which is not a defined state`, this.location);
        }
      }
    }
    const reached = new Set<string>([startAt]);
    const stack = [startAt];
    while (stack.length) {
      for (const r of references(this.states.get(stack.pop()!)!)) {
        if (!reached.has(r.to)) {
          reached.add(r.to);
          stack.push(r.to);
        }
      }
    }
    for (const id of this.states.keys()) {
      if (!reached.has(id)) throw new AslCompileError(`state '${id}' cannot be reached from StartAt '${startAt}'`, this.location);
    }
    return { StartAt: startAt, States: Object.fromEntries(this.states) };
  }
}
