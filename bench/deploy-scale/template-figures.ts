// Figures of a synthesized CloudFormation template, read from its JSON as CloudFormation receives it.
// IAM policies are counted as IAM counts them once deployed: their intrinsics (Ref, Fn::GetAtt, Fn::Join)
// resolved to the longest value each can take (cdk/policy-size.ts), without whitespace.
import { policyChars, type TemplateResources } from '../../cdk/policy-size.ts';

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources?: Record<string, CfnResource>;
}

/** The largest of several figures, and what it is of. */
export interface Largest {
  value: number;
  of: string;
}

export interface TemplateFigures {
  resources: number;
  /** Resources by type, most first. */
  resourcesByType: Record<string, number>;
  stateMachines: number;
  /** The longest state machine definition, in bytes of its DefinitionString (or of its Definition's JSON). */
  largestDefinition: Largest | null;
  /** The longest IAM policy document (inline or managed), in characters of its JSON, resolved at its longest. */
  largestPolicy: (Largest & { kind: 'inline' | 'managed' }) | null;
  /** The longest managed policy document, in characters of its JSON. */
  largestManagedPolicy: Largest | null;
  /** The role whose inline policies (AWS::IAM::Policy attached to it, and its own `Policies`) are longest in total, in characters. */
  largestInlinePerRole: Largest | null;
  /** The role with the most managed policies (its ManagedPolicyArns and the AWS::IAM::ManagedPolicy resources naming it). */
  mostManagedPerRole: Largest | null;
  /** The function whose environment variables are longest, in bytes of their JSON. */
  largestEnvironment: Largest | null;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function larger(current: Largest | null, value: number, of: string): Largest {
  return current === null || value > current.value ? { value, of } : current;
}

/** The logical ids a `Roles` property names (`{ Ref: <id> }`); role names given as strings are kept as they are. */
function roleIds(roles: unknown): string[] {
  if (!Array.isArray(roles)) return [];
  return roles.map((r) => (r !== null && typeof r === 'object' && 'Ref' in r ? String((r as { Ref: unknown }).Ref) : JSON.stringify(r)));
}

export function templateFigures(template: CfnTemplate): TemplateFigures {
  const resources = Object.entries(template.Resources ?? {});
  const byType: Record<string, number> = {};
  let stateMachines = 0;
  let largestDefinition: Largest | null = null;
  let largestPolicy: (Largest & { kind: 'inline' | 'managed' }) | null = null;
  let largestManagedPolicy: Largest | null = null;
  let largestEnvironment: Largest | null = null;
  const inlinePerRole = new Map<string, number>();
  const managedPerRole = new Map<string, number>();
  const addTo = (m: Map<string, number>, role: string, n: number) => m.set(role, (m.get(role) ?? 0) + n);
  const policy = (id: string, kind: 'inline' | 'managed', document: unknown) => {
    const n = policyChars(document, template as TemplateResources);
    if (largestPolicy === null || n > largestPolicy.value) largestPolicy = { value: n, of: id, kind };
    return n;
  };

  for (const [id, r] of resources) {
    byType[r.Type] = (byType[r.Type] ?? 0) + 1;
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::StepFunctions::StateMachine': {
        stateMachines++;
        const d = p['DefinitionString'] ?? p['Definition'];
        largestDefinition = larger(largestDefinition, typeof d === 'string' ? bytes(d) : bytes(JSON.stringify(d ?? null)), id);
        break;
      }
      case 'AWS::IAM::Policy': {
        const n = policy(id, 'inline', p['PolicyDocument']);
        for (const role of roleIds(p['Roles'])) addTo(inlinePerRole, role, n);
        break;
      }
      case 'AWS::IAM::ManagedPolicy': {
        const n = policy(id, 'managed', p['PolicyDocument']);
        largestManagedPolicy = larger(largestManagedPolicy, n, id);
        for (const role of roleIds(p['Roles'])) addTo(managedPerRole, role, 1);
        break;
      }
      case 'AWS::IAM::Role': {
        inlinePerRole.set(id, inlinePerRole.get(id) ?? 0);
        managedPerRole.set(id, managedPerRole.get(id) ?? 0);
        const own = Array.isArray(p['Policies']) ? (p['Policies'] as { PolicyName: string; PolicyDocument: unknown }[]) : [];
        for (const o of own) addTo(inlinePerRole, id, policy(`${id}.${o.PolicyName}`, 'inline', o.PolicyDocument));
        if (Array.isArray(p['ManagedPolicyArns'])) addTo(managedPerRole, id, p['ManagedPolicyArns'].length);
        break;
      }
      case 'AWS::Lambda::Function': {
        const vars = (p['Environment'] as { Variables?: unknown } | undefined)?.Variables;
        if (vars !== undefined) largestEnvironment = larger(largestEnvironment, bytes(JSON.stringify(vars)), id);
        break;
      }
    }
  }
  const most = (m: Map<string, number>) => [...m].reduce<Largest | null>((best, [of, value]) => larger(best, value, of), null);
  return {
    resources: resources.length,
    resourcesByType: Object.fromEntries(Object.entries(byType).sort((a, b) => b[1] - a[1])),
    stateMachines,
    largestDefinition,
    largestPolicy,
    largestManagedPolicy,
    largestInlinePerRole: most(inlinePerRole),
    mostManagedPerRole: most(managedPerRole),
    largestEnvironment,
  };
}
