// The AWS SDK calls a function's code can make, found statically, and the IAM actions they need; and
// whether a role's statements in a synthesized template allow an action. Used by test/iam-sdk-calls.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import ts from 'typescript';

/** One `new <X>Command(` or `paginate<X>(` of a first-party file. */
export interface SdkCall {
  /** The package the command comes from, e.g. `@aws-sdk/client-batch`. */
  pkg: string;
  /** The command's name, e.g. `SubmitJobCommand` (a paginator's command: `paginateListJobs` → `ListJobsCommand`). */
  command: string;
  /** `<file>:<line>`, relative to the repository root. */
  at: string;
}

/**
 * The first-party files (under `lib/` and `functions/`) a function's bundle keeps code of: `entry`
 * bundled as the stack bundles it (esbuild, ESM for Node, the DAGs module aliased), its metafile's
 * inputs of the output that contribute bytes to it (a file esbuild tree-shakes out entirely has none).
 */
export async function reachableFiles(root: string, entry: string, dagsModule: string): Promise<string[]> {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    outdir: 'out',
    tsconfig: path.join(root, 'tsconfig.json'),
    alias: { 'airless-dags': dagsModule },
    logLevel: 'silent',
  });
  const outputs = Object.values(result.metafile.outputs).filter((o) => o.entryPoint !== undefined);
  if (outputs.length !== 1) throw new Error(`bundling ${entry} gave ${outputs.length} entry outputs, expected 1`);
  return Object.entries(outputs[0]!.inputs)
    .filter(([file, input]) => input.bytesInOutput > 0 && /^(lib|functions)\//.test(file))
    .map(([file]) => file)
    .sort();
}

/**
 * The SDK commands `source` constructs: `new X(...)` where X is a value imported from an `@aws-sdk/*`
 * package whose name ends with `Command` (a namespace import's `new ns.XCommand(...)` too), and calls of
 * imported `paginateX(...)` (they send `XCommand`). Type-only imports are no calls.
 */
export function sdkCallsIn(file: string, source: string): SdkCall[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const named = new Map<string, { pkg: string; name: string }>();
  const namespaces = new Map<string, string>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const pkg = st.moduleSpecifier.text;
    const clause = st.importClause;
    if (!pkg.startsWith('@aws-sdk/') || !clause || clause.isTypeOnly) continue;
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.set(bindings.name.text, pkg);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) if (!el.isTypeOnly) named.set(el.name.text, { pkg, name: (el.propertyName ?? el.name).text });
    }
  }
  const calls: SdkCall[] = [];
  const at = (node: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const imported = (e: ts.Expression): { pkg: string; name: string } | undefined => {
    if (ts.isIdentifier(e)) return named.get(e.text);
    if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression)) {
      const pkg = namespaces.get(e.expression.text);
      return pkg ? { pkg, name: e.name.text } : undefined;
    }
    return undefined;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node)) {
      const i = imported(node.expression);
      if (i && i.name.endsWith('Command')) calls.push({ pkg: i.pkg, command: i.name, at: at(node) });
    } else if (ts.isCallExpression(node)) {
      const i = imported(node.expression);
      if (i && /^paginate[A-Z]/.test(i.name)) calls.push({ pkg: i.pkg, command: `${i.name.slice('paginate'.length)}Command`, at: at(node) });
      if (i && /^waitUntil[A-Z]/.test(i.name)) throw new Error(`${at(node)}: ${i.name} of ${i.pkg} sends commands this walk does not know: name them here`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return calls;
}

/** The SDK calls of files (paths relative to `root`). */
export function sdkCallsOf(root: string, files: readonly string[]): SdkCall[] {
  return files.flatMap((f) => sdkCallsIn(f, readFileSync(path.join(root, f), 'utf8')));
}

/** IAM service prefixes of the SDK clients. */
const SERVICE_PREFIX: Readonly<Record<string, string>> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-batch': 'batch',
  '@aws-sdk/client-lambda': 'lambda',
  '@aws-sdk/client-cloudformation': 'cloudformation',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sesv2': 'ses',
  '@aws-sdk/client-scheduler': 'scheduler',
};

/** Item actions a transaction is authorized by: IAM has no TransactWriteItems action, each item's action is checked. */
const TRANSACT_WRITE = ['PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'];

/** The DynamoDB actions of the document client's commands (`@aws-sdk/lib-dynamodb`). */
const DOCUMENT_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  GetCommand: ['GetItem'],
  PutCommand: ['PutItem'],
  UpdateCommand: ['UpdateItem'],
  DeleteCommand: ['DeleteItem'],
  QueryCommand: ['Query'],
  ScanCommand: ['Scan'],
  BatchGetCommand: ['BatchGetItem'],
  BatchWriteCommand: ['BatchWriteItem'],
  TransactGetCommand: ['GetItem'],
  TransactWriteCommand: TRANSACT_WRITE,
};

/** Actions a call needs beyond its own: SubmitJob tags the job it creates (tag on create needs TagResource). */
const IMPLIED: Readonly<Record<string, readonly string[]>> = {
  'batch:SubmitJob': ['batch:TagResource'],
  // A schedule's target names the role Scheduler assumes: the caller passes it.
  'scheduler:CreateSchedule': ['iam:PassRole'],
};

/** The IAM actions an SDK call needs. Throws on a client or document command this table does not know. */
export function iamActionsOf(call: SdkCall): string[] {
  let actions: string[];
  if (call.pkg === '@aws-sdk/lib-dynamodb') {
    const known = DOCUMENT_COMMANDS[call.command];
    if (!known) throw new Error(`${call.at}: no DynamoDB action known for the document client's ${call.command}: add it to DOCUMENT_COMMANDS`);
    actions = known.map((a) => `dynamodb:${a}`);
  } else {
    const prefix = SERVICE_PREFIX[call.pkg];
    if (!prefix) throw new Error(`${call.at}: no IAM service prefix known for ${call.pkg} (${call.command}): add it to SERVICE_PREFIX`);
    const name = call.command.replace(/Command$/, '');
    if (prefix === 'dynamodb' && name === 'TransactWriteItems') actions = TRANSACT_WRITE.map((a) => `dynamodb:${a}`);
    else if (prefix === 'dynamodb' && name === 'TransactGetItems') actions = ['dynamodb:GetItem'];
    else actions = [`${prefix}:${name}`];
  }
  return [...actions, ...actions.flatMap((a) => IMPLIED[a] ?? [])];
}

/** Each IAM action the calls need, with the calls that need it. */
export function actionsNeeded(calls: readonly SdkCall[]): Map<string, SdkCall[]> {
  const out = new Map<string, SdkCall[]>();
  for (const c of calls) for (const a of iamActionsOf(c)) out.set(a, [...(out.get(a) ?? []), c]);
  return out;
}

/** An IAM policy statement as a template has it. */
export interface TemplateStatement {
  Effect: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Whether an IAM action pattern (`*` and `?` wildcards, case-insensitive) matches an action. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(action);
}

/**
 * The resources (as template JSON text) on which the statements allow `action`; empty when none does.
 * A Deny on every resource (`*`) of the action counts as not allowed.
 */
export function allowedResources(statements: readonly TemplateStatement[], action: string): string[] {
  const matches = (s: TemplateStatement) =>
    s.Action !== undefined ? list(s.Action).some((p) => actionMatches(p, action)) : !list(s.NotAction).some((p) => actionMatches(p, action));
  if (statements.some((s) => s.Effect === 'Deny' && matches(s) && list(s.Resource).some((r) => r === '*'))) return [];
  return statements.filter((s) => s.Effect === 'Allow' && matches(s)).flatMap((s) => list(s.Resource).map((r) => JSON.stringify(r)));
}

/** A needed action the role's statements do not allow (or allow on no resource of the expected kind). */
export interface MissingGrant {
  action: string;
  calls: SdkCall[];
  /** What resources the statements allow it on (empty: the action is not allowed at all). */
  allowedOn: string[];
}

/**
 * The needed actions `statements` do not allow. `resourceOf(action)` says what a resource allowing the
 * action must look like (template JSON text), e.g. the stack's table for `dynamodb:*`: an action
 * allowed only on other resources is missing too.
 */
export function missingGrants(needed: ReadonlyMap<string, SdkCall[]>, statements: readonly TemplateStatement[], resourceOf: (action: string) => RegExp | null): MissingGrant[] {
  const missing: MissingGrant[] = [];
  for (const [action, calls] of [...needed].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const allowedOn = allowedResources(statements, action);
    const expected = resourceOf(action);
    const ok = allowedOn.length > 0 && (expected === null || allowedOn.some((r) => expected.test(r) || r === '"*"'));
    if (!ok) missing.push({ action, calls, allowedOn });
  }
  return missing;
}

/** A missing grant as one line: the action, the calls that need it, what is allowed instead. */
export function describeMissing(m: MissingGrant): string {
  const where = [...new Set(m.calls.map((c) => `${c.command} at ${c.at}`))].slice(0, 3).join(', ');
  return `${m.action} (${where}) ${m.allowedOn.length ? `is allowed only on ${m.allowedOn.join(', ')}` : 'is not allowed'}`;
}

/** A CloudFormation template as JSON. */
export interface TemplateJson {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/**
 * The statements of every policy a role has in a template: inline policies (`AWS::IAM::Policy`) and
 * customer managed policies (`AWS::IAM::ManagedPolicy`) that list the role, managed policies of the
 * template the role lists in `ManagedPolicyArns`, and the role's own `Policies`. AWS managed policies
 * (an ARN outside the template) are left out: the stack attaches only AWSLambdaBasicExecutionRole (logs).
 */
export function roleStatements(template: TemplateJson, roleId: string): TemplateStatement[] {
  const role = template.Resources[roleId];
  if (!role || role.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  const attachedByRole = new Set(
    list(role.Properties?.['ManagedPolicyArns'] as unknown[] | undefined).flatMap((a) => (typeof a === 'object' && a !== null && 'Ref' in a ? [String((a as { Ref: string }).Ref)] : [])),
  );
  const out: TemplateStatement[] = [];
  for (const p of list(role.Properties?.['Policies'] as { PolicyDocument: { Statement: TemplateStatement[] } }[] | undefined)) out.push(...p.PolicyDocument.Statement);
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = list(r.Properties?.['Roles'] as { Ref?: string }[] | undefined);
    if (attachedByRole.has(id) || roles.some((x) => x.Ref === roleId)) out.push(...(r.Properties!['PolicyDocument'] as { Statement: TemplateStatement[] }).Statement);
  }
  return out;
}
