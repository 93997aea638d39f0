// How many characters IAM counts of a template's policy documents once deployed: the intrinsics of the
// template resolved to the longest values they can take (the longest partition, region and names), the
// JSON without whitespace (IAM does not count whitespace).

/** The longest partition (aws-us-gov), region, and an account id. */
const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws-us-gov',
  'AWS::Region': 'ap-southeast-7',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com.cn',
  'AWS::StackName': 'S'.repeat(128),
};

const arnOf = (service: string, resource: string, nameMax: number) => `arn:${PSEUDO['AWS::Partition']}:${service}:${PSEUDO['AWS::Region']}:${PSEUDO['AWS::AccountId']}:${resource}${'n'.repeat(nameMax)}`;

/** The longest value of `Fn::GetAtt [<resource>, <attribute>]` (or a `Ref`), by the resource's type. */
const LONGEST: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'AWS::Lambda::Function': { Arn: arnOf('lambda', 'function:', 64), Ref: 'n'.repeat(64) },
  'AWS::DynamoDB::Table': { Arn: arnOf('dynamodb', 'table/', 255), Ref: 'n'.repeat(255) },
  'AWS::S3::Bucket': { Arn: `arn:${PSEUDO['AWS::Partition']}:s3:::${'n'.repeat(63)}`, Ref: 'n'.repeat(63) },
  'AWS::Batch::JobQueue': { Ref: arnOf('batch', 'job-queue/', 128), JobQueueArn: arnOf('batch', 'job-queue/', 128) },
  'AWS::StepFunctions::StateMachine': { Ref: arnOf('states', 'stateMachine:', 80), Arn: arnOf('states', 'stateMachine:', 80), Name: 'n'.repeat(80) },
  'AWS::Logs::LogGroup': { Arn: arnOf('logs', 'log-group:', 512) + ':*', Ref: 'n'.repeat(512) },
  'AWS::IAM::Role': { Arn: `arn:${PSEUDO['AWS::Partition']}:iam::${PSEUDO['AWS::AccountId']}:role/${'n'.repeat(64)}`, Ref: 'n'.repeat(64) },
};

export interface TemplateResources {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/**
 * A template value with its intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub` without a variable
 * map) replaced by the longest strings they can resolve to. Throws on another intrinsic, or on a
 * resource type this file has no longest value for, naming it.
 */
export function longestResolved(value: unknown, template: TemplateResources): unknown {
  const attribute = (id: string, attr: string): string => {
    const type = template.Resources[id]?.Type;
    const v = type ? LONGEST[type]?.[attr] : undefined;
    if (v === undefined) throw new Error(`no longest value known for ${attr} of ${id} (${type ?? 'not in the template'}): add it to LONGEST`);
    return v;
  };
  const ref = (name: string): string => PSEUDO[name] ?? attribute(name, 'Ref');
  const go = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(go);
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref') return ref(arg as string);
    if (entries.length === 1 && key === 'Fn::GetAtt') {
      const [id, attr] = typeof arg === 'string' ? (arg.split('.') as [string, string]) : (arg as [string, string]);
      return attribute(id, attr);
    }
    if (entries.length === 1 && key === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return parts.map((p) => String(go(p))).join(sep);
    }
    if (entries.length === 1 && key === 'Fn::Sub' && typeof arg === 'string') {
      return arg.replace(/\$\{([^}!]+)\}/g, (_, name: string) => (name.includes('.') ? attribute(name.split('.')[0]!, name.split('.')[1]!) : ref(name)));
    }
    if (entries.length === 1 && key!.startsWith('Fn::')) throw new Error(`the intrinsic ${key} is not resolved here: resolve it in longestResolved`);
    return Object.fromEntries(entries.map(([k, x]) => [k, go(x)]));
  };
  return go(value);
}

/** The characters IAM counts of a policy document of the template, at its longest once deployed. */
export function policyChars(document: unknown, template: TemplateResources): number {
  return JSON.stringify(longestResolved(document, template)).length;
}

/** IAM's limits on a role's policies (characters without whitespace; managed policies attached by default). */
export const IAM_LIMITS = { managedPolicyChars: 6144, inlineCharsPerRole: 10_240, managedPoliciesPerRole: 10 } as const;

/** A role's policies and their sizes in a template. */
export interface RolePolicySizes {
  role: string;
  /** Characters of each inline policy (`AWS::IAM::Policy` listing the role, and the role's `Policies`). */
  inline: number[];
  /** Characters of each customer managed policy of the template attached to the role. */
  managed: number[];
  /** Managed policies attached: the template's and AWS managed ones (by ARN). */
  managedCount: number;
}

/** The sizes of every role's policies in a template. */
export function rolePolicySizes(template: TemplateResources): RolePolicySizes[] {
  const out: RolePolicySizes[] = [];
  const list = <T>(v: T[] | undefined): T[] => v ?? [];
  for (const [roleId, role] of Object.entries(template.Resources)) {
    if (role.Type !== 'AWS::IAM::Role') continue;
    const inline = list(role.Properties?.['Policies'] as { PolicyDocument: unknown }[] | undefined).map((p) => policyChars(p.PolicyDocument, template));
    const managed: number[] = [];
    const arns = list(role.Properties?.['ManagedPolicyArns'] as unknown[] | undefined);
    const byRole = new Set(arns.flatMap((a) => (typeof a === 'object' && a !== null && 'Ref' in a ? [String(a.Ref)] : [])));
    let managedCount = arns.length;
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const listsRole = list(r.Properties?.['Roles'] as { Ref?: string }[] | undefined).some((x) => x.Ref === roleId);
      if (!listsRole && !byRole.has(id)) continue;
      const size = policyChars(r.Properties!['PolicyDocument'], template);
      if (r.Type === 'AWS::IAM::Policy') inline.push(size);
      else {
        managed.push(size);
        if (!byRole.has(id)) managedCount++;
      }
    }
    out.push({ role: roleId, inline, managed, managedCount });
  }
  return out;
}

/** Each limit a role's policies break, as a sentence naming the role. */
export function limitsBroken(sizes: readonly RolePolicySizes[]): string[] {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return sizes.flatMap((s) => [
    ...s.managed.filter((n) => n > IAM_LIMITS.managedPolicyChars).map((n) => `${s.role}: a managed policy of ${n} characters (IAM allows ${IAM_LIMITS.managedPolicyChars})`),
    ...(sum(s.inline) > IAM_LIMITS.inlineCharsPerRole ? [`${s.role}: inline policies of ${sum(s.inline)} characters in all (IAM allows ${IAM_LIMITS.inlineCharsPerRole})`] : []),
    ...(s.managedCount > IAM_LIMITS.managedPoliciesPerRole ? [`${s.role}: ${s.managedCount} managed policies attached (IAM allows ${IAM_LIMITS.managedPoliciesPerRole})`] : []),
  ]);
}
