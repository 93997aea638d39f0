// The AWS quotas a deployed stack must stay under, and the check of one figure against its quota.

export interface Quota {
  /** What is limited. */
  what: string;
  limit: number;
  unit: 'resources' | 'bytes' | 'chars' | 'policies';
  /** Where the limit is documented. */
  source: string;
}

/**
 * The quotas of the deploy-scale benchmark. Sources, recorded 2026-12-07:
 * CloudFormation https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html,
 * Step Functions https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
 * IAM https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html,
 * Lambda https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html.
 */
export const QUOTAS = {
  resources: { what: 'CloudFormation resources per stack', limit: 500, unit: 'resources', source: 'CloudFormation quotas' },
  templateDirect: { what: 'CloudFormation template body, direct', limit: 51_200, unit: 'bytes', source: 'CloudFormation quotas' },
  templateS3: { what: 'CloudFormation template body, via S3', limit: 1_048_576, unit: 'bytes', source: 'CloudFormation quotas' },
  definition: { what: 'Step Functions definition', limit: 1_048_576, unit: 'bytes', source: 'Step Functions quotas' },
  inlinePerRole: { what: 'IAM inline policies per role (total)', limit: 10_240, unit: 'chars', source: 'IAM quotas' },
  managedPolicy: { what: 'IAM managed policy', limit: 6_144, unit: 'chars', source: 'IAM quotas' },
  managedPerRole: { what: 'IAM managed policies per role', limit: 10, unit: 'policies', source: 'IAM quotas (default; up to 20 on request)' },
  lambdaBundle: { what: 'Lambda bundle, unzipped', limit: 262_144_000, unit: 'bytes', source: 'Lambda quotas' },
  lambdaEnvironment: { what: 'Lambda environment', limit: 4_096, unit: 'bytes', source: 'Lambda quotas' },
} as const satisfies Record<string, Quota>;

export type QuotaName = keyof typeof QUOTAS;

export interface QuotaCheck {
  quota: QuotaName;
  what: string;
  limit: number;
  unit: Quota['unit'];
  /** The measured figure; null when not measured. */
  value: number | null;
  /** What the figure is of (a resource's logical id, a function), when it is the largest of several. */
  of: string | null;
  /** value <= limit; null when not measured. */
  under: boolean | null;
}

export function checkQuota(quota: QuotaName, value: number | null, of: string | null = null): QuotaCheck {
  const q: Quota = QUOTAS[quota];
  return { quota, what: q.what, limit: q.limit, unit: q.unit, value, of, under: value === null ? null : value <= q.limit };
}
