// The deploy-scale benchmark's printout: a row of figures per size, the quotas per size, and what the
// validator and cdk-nag found.
import type { DeployScaleScenario, SizeFailure } from './bench.ts';
import type { SizeFigures } from './measure-size.ts';
import { QUOTAS, type QuotaName } from './quotas.ts';

const n = (x: number) => x.toLocaleString('en-US');
const kb = (bytes: number) => (bytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 });

function grid(head: string[], rows: string[][], leftColumns = 1): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

const isFailure = (s: SizeFigures | SizeFailure): s is SizeFailure => 'error' in s;
const label = (s: { dags: number; tasksPerDag: number }) => `${s.dags} × ${s.tasksPerDag}`;

export function deployScaleTable(r: DeployScaleScenario): string {
  const out: string[] = ['', 'deploy scale (the stack synthesized for generated DAGs, bundling skipped):'];
  const head = ['DAGs × tasks', 'tasks', 'express', 'resources', 'template KB', 'largest definition B', 'largest IAM policy chars', 'synth s', 'validate s', 'validator errors', 'cdk-nag errors', 'cdk synth'];
  const rows = r.sizes.map((s) => {
    if (isFailure(s)) return [label(s), n(s.tasks), '-', '-', '-', '-', '-', '-', '-', '-', '-', `FAILED: ${s.error}`];
    return [
      label(s),
      n(s.tasks),
      n(s.expressTasks),
      n(s.template.resources),
      kb(s.templateBytes),
      s.template.largestDefinition ? n(s.template.largestDefinition.value) : '-',
      s.template.largestPolicy ? `${n(s.template.largestPolicy.value)} (${s.template.largestPolicy.kind})` : '-',
      s.synthSeconds.toFixed(1),
      s.validator.seconds.toFixed(1),
      n(s.validator.errors),
      n(s.nag.errors),
      s.synthError ? 'refused (over 500 resources)' : 'ok',
    ];
  });
  out.push(...grid(head, rows, 1).map((l) => `  ${l}`));

  const measured = r.sizes.filter((s): s is SizeFigures => !isFailure(s));
  if (measured.length) {
    out.push('', 'quotas (under / OVER):');
    const names = Object.keys(QUOTAS) as QuotaName[];
    const qrows = names.map((q) => {
      const quota = QUOTAS[q];
      return [
        quota.what,
        `${n(quota.limit)} ${quota.unit}`,
        ...measured.map((s) => {
          const c = s.quotas.find((x) => x.quota === q);
          if (!c || c.value === null) return 'not measured';
          return `${n(c.value)} ${c.under ? 'under' : 'OVER'}`;
        }),
      ];
    });
    out.push(...grid(['quota', 'limit', ...measured.map(label)], qrows, 2).map((l) => `  ${l}`));
    out.push(
      '  The CDK CLI uploads a template body over 51,200 bytes to S3 (its limit is then 1 MB). IAM: characters of the',
      '  policy JSON without whitespace, each Ref, Fn::GetAtt and Fn::Join resolved to the longest value it can take',
      '  (the longest partition, region and names). Lambda environment: bytes of the JSON of its variables, as written.',
      'bundles' in r && 'largest' in r.bundles
        ? `  Lambda bundle: the largest function's (${r.bundles.largest.function}) index.mjs and source map, built once with esbuild (${r.bundles.seconds} s).`
        : `  Lambda bundle: not measured${'bundles' in r && 'error' in r.bundles ? ` (${r.bundles.error})` : ''}.`,
    );
  }

  for (const s of measured) {
    const lines: string[] = [];
    if (s.synthError) lines.push(`cdk synth at its default limit: ${s.synthError}`);
    for (const f of s.validator.findings) lines.push(`validator ${f.severity} ${f.ruleId} ×${n(f.count)}: ${f.message}${f.resource ? ` (e.g. ${f.resource})` : ''}`);
    for (const f of s.nag.byRule) lines.push(`cdk-nag ${f.rule} ×${n(f.count)} (e.g. ${f.firstPath})`);
    if (lines.length) out.push('', `${label(s)}:`, ...lines.map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}
