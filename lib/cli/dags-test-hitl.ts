/**
 * Human-in-the-loop tasks in `airless dags test`: each request is printed with how to answer it, and
 * answered from `--respond TASK=OPTION[,OPTION]` (and `--respond-input TASK.FIELD=VALUE`), or asked on
 * the terminal. With `--skip-waits`, a request with a timeout that nobody answers takes its default at once
 * (time skips to it). A request nothing can answer (no answer given, no terminal, no timeout) fails the run
 * with a note saying how to answer, instead of waiting for ever.
 */
import { createInterface } from 'node:readline/promises';
import type { Dag } from '../authoring/dag.ts';
import { errorMessage } from '../errors.ts';
import { tiKeyOf, type TiKey } from '../model/keys.ts';
import type { LocalRunner, RunnerEvent } from '../runner/local-runner.ts';
import type { HitlAnswerInput } from '../scheduler/hitl.ts';
import type { HitlRecord } from '../store/hitl-records.ts';
import { apiUser } from '../standalone/api-user.ts';
import type { Terminal } from './terminal.ts';
import { UsageError } from './usage-error.ts';

/** The answers given on the command line, by task id. */
export interface GivenAnswers {
  options: Map<string, string[]>;
  inputs: Map<string, Record<string, unknown>>;
}

/** `--respond TASK=OPTION[,OPTION...]` and `--respond-input TASK.FIELD=VALUE` (a JSON value, else text). */
export function parseGivenAnswers(respond: readonly string[] = [], inputs: readonly string[] = []): GivenAnswers {
  const options = new Map<string, string[]>();
  for (const r of respond) {
    const eq = r.indexOf('=');
    if (eq <= 0 || eq === r.length - 1) throw new UsageError(`--respond ${JSON.stringify(r)}: expected TASK=OPTION (several options: TASK=A,B)`);
    const taskId = r.slice(0, eq);
    if (options.has(taskId)) throw new UsageError(`--respond: task '${taskId}' is given twice`);
    options.set(taskId, r.slice(eq + 1).split(',').map((o) => o.trim()));
  }
  const values = new Map<string, Record<string, unknown>>();
  for (const i of inputs) {
    const m = /^([^=]+)\.([^.=]+)=(.*)$/s.exec(i);
    if (!m) throw new UsageError(`--respond-input ${JSON.stringify(i)}: expected TASK.FIELD=VALUE`);
    const [, taskId, field, text] = m as unknown as [string, string, string, string];
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    const o = values.get(taskId) ?? {};
    o[field] = value;
    values.set(taskId, o);
  }
  return { options, inputs: values };
}

/** How a request reads in the terminal, and how to answer it. */
export function describeRequest(r: HitlRecord): string {
  const lines = [`human-in-the-loop: ${r.taskId}${r.mapIndex >= 0 ? ` [${r.mapIndex}]` : ''} asks "${r.subject}"`];
  if (r.body) lines.push(...r.body.split('\n').map((l) => `  | ${l}`));
  lines.push(`  options: ${r.options.join(', ')}${r.multiple ? ' (several may be chosen)' : ''}`);
  for (const [name, schema] of Object.entries(r.params ?? {})) lines.push(`  field ${name}: ${JSON.stringify(schema)}`);
  if (r.assignedTo.length) lines.push(`  assigned to: ${r.assignedTo.join(', ')}`);
  if (r.timeoutAt) lines.push(`  times out at ${r.timeoutAt}, then takes ${r.defaults ? r.defaults.join(', ') : 'nothing: the try fails'}`);
  const field = Object.keys(r.params ?? {})[0];
  lines.push(`  answer with: --respond ${r.taskId}=${r.options[0]}${field ? ` --respond-input ${r.taskId}.${field}=VALUE` : ''}`);
  return lines.join('\n');
}

/** The user a local test answers as: the local user if assigned (or nobody is), else the first assignee. */
function localUser(assignedTo: readonly string[]): string {
  const me = apiUser();
  return assignedTo.length === 0 || assignedTo.includes(me) ? me : assignedTo[0]!;
}

export interface HitlResponderOptions {
  runner: LocalRunner;
  dags: { getDag(dagId: string): Dag | undefined };
  term: Terminal;
  given: GivenAnswers;
  /** Ask on the terminal when no answer is given (a TTY, not --json). */
  prompt: boolean;
  /** --skip-waits: a request with a timeout is left to it. */
  skipWaits: boolean;
  /** Print a line (through the live view when there is one). */
  print: (text: string) => void;
}

/** Answers the requests of a `dags test` run: subscribe it with `runner.on(responder.handle)`. */
export class HitlResponder {
  private readonly asking: Promise<void>[] = [];
  constructor(private readonly o: HitlResponderOptions) {}

  readonly handle = (e: RunnerEvent): void => {
    if (e.type !== 'ti' || e.ti.state !== 'deferred') return;
    const t = this.o.dags.getDag(e.ti.dagId)?.taskIndex.get(e.ti.taskId);
    if (t?.kind !== 'hitl') return;
    const key = tiKeyOf(e.ti);
    const options = this.o.given.options.get(key.taskId) ?? (this.o.given.inputs.has(key.taskId) && t.hitl.mode === 'form' ? ['OK'] : undefined);
    if (options) {
      // Answered at once (counted in flight, so no timeout fires first).
      const paramsInput = this.o.given.inputs.get(key.taskId);
      void this.answer(key, { chosenOptions: options, ...(paramsInput ? { paramsInput } : {}), user: localUser(t.hitl.assignedTo) }, true);
      return;
    }
    this.asking.push(this.ask(key, t.hitl.timeoutMs !== null, localUser(t.hitl.assignedTo)));
  };

  /** Answer now: `respondHitl` counts as work in flight from this call on, so no timeout fires first. */
  private async answer(key: TiKey, a: HitlAnswerInput, fromFlags: boolean): Promise<void> {
    try {
      const done = await this.o.runner.respondHitl(key, a);
      this.o.print(`human-in-the-loop: ${key.taskId} answered ${done.response?.chosenOptions.join(', ') ?? ''} as ${a.user ?? 'nobody'}${fromFlags ? ' (--respond)' : ''}`);
    } catch (e) {
      // A refused answer (a wrong option or field) fails the run with why, rather than waiting for ever.
      await this.fail(key, `the answer to '${key.taskId}' was refused: ${errorMessage(e)}`);
    }
  }

  private async ask(key: TiKey, hasTimeout: boolean, user: string): Promise<void> {
    const rec = await this.o.runner.store.getHitlRequest(key);
    if (!rec) return;
    this.o.print(describeRequest(rec));
    if (hasTimeout && (this.o.skipWaits || !this.o.prompt)) return;
    if (!this.o.prompt) {
      await this.fail(key, `'${key.taskId}' waits for an answer and nothing can give it here (no --respond ${key.taskId}=OPTION, no terminal, no timeout)`);
      return;
    }
    const rl = createInterface({ input: process.stdin, output: this.o.term.stderr });
    try {
      const text = (await rl.question(`answer ${key.taskId} (${rec.options.join('/')}${rec.params ? ', then fields' : ''}): `)).trim();
      const chosen = text === '' && rec.options.length === 1 ? rec.options : text.split(',').map((s) => s.trim());
      const paramsInput: Record<string, unknown> = {};
      for (const name of Object.keys(rec.params ?? {})) {
        const v = (await rl.question(`  ${name}: `)).trim();
        if (v === '') continue;
        try {
          paramsInput[name] = JSON.parse(v);
        } catch {
          paramsInput[name] = v;
        }
      }
      await this.answer(key, { chosenOptions: chosen, paramsInput, user }, false);
    } finally {
      rl.close();
    }
  }

  private async fail(key: TiKey, note: string): Promise<void> {
    this.o.print(`human-in-the-loop: ${note}`);
    await this.o.runner.drive((s) => s.failRun(key, note));
  }

  /** Wait for the prompts in progress. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.asking);
  }
}
