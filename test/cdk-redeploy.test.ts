// Template tests of redeploys and of stacks side by side: a DAG change is a change of the functions' code,
// never of the stack's resources (so a task moving between Express and Standard, or between lifecycle
// shapes, replaces nothing), and two stacks in one account share no physical name.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AirlessStack, type AirlessStackProps } from '../cdk/airless.ts';
import { dag, type Dag } from '../lib/index.ts';

/** A stack of `dags` (bundling skipped: the functions' code is not what these tests compare). */
function synth(dags: Dag[], stackName = 'Airless', props: Partial<AirlessStackProps> = {}): { stack: AirlessStack; template: Record<string, any> } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AirlessStack(app, stackName, { dags: { specs: dags.map((d) => d.spec), dagsModule: 'test/fixtures/no-dags-module.ts' }, ...props });
  return { stack, template: Template.fromStack(stack).toJSON() as Record<string, any> };
}

/** The template without what a DAG change may change: the functions' code (the bundled DAGs) and the stack's description. */
function withoutCode(template: Record<string, any>): Record<string, any> {
  const t = structuredClone(template);
  for (const r of Object.values<Record<string, any>>(t['Resources'])) {
    if (r['Type'] === 'AWS::Lambda::Function') delete r['Properties']['Code'];
  }
  delete t['Description'];
  return t;
}

const physicalNames = (template: Record<string, any>) =>
  Object.entries<Record<string, any>>(template['Resources']).flatMap(([id, r]) =>
    ['StateMachineName', 'LogGroupName', 'RoleName', 'FunctionName', 'TableName', 'BucketName', 'Name']
      .filter((k) => typeof r['Properties']?.[k] === 'string')
      .map((k) => `${r['Type']} ${String(r['Properties'][k])} (${id})`),
  );

describe('a redeploy after a DAG change', () => {
  const before = dag({ dagId: 'etl' }, ({ task }) => {
    const a = task('extract', () => 1);
    task('load', (_c, x: number) => x)(a);
  });
  // extract moves from Express-shaped (no retries) to retried with a long timeout; load becomes an
  // iteration; a sensor and a Batch job are added; a second DAG appears.
  const after = dag({ dagId: 'etl' }, ({ task, sensor, batchJob }) => {
    const a = task('extract', () => 1, { retries: 1, executionTimeout: '10m' });
    const l = task('load', (_c, x: number) => x * 2).iterate([1, 2, 3], { concurrency: 2, itemRetries: 3 });
    l.after(a);
    sensor('wait', () => true, { pokeInterval: '1m' }).after(l);
    batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', command: ['run'] }).after(l);
  });
  const other = dag({ dagId: 'other' }, ({ task }) => {
    for (let i = 0; i < 20; i++) task(`t${i}`, () => i, { retries: i % 3 });
  });

  it('changes no resource but the functions\' code: the same machines, roles and policies (nothing to replace)', () => {
    const a = synth([before]);
    const b = synth([after, other]);
    // Batch: the queue and definitions the DAGs name are granted to the Batch machines, so they differ.
    const batchPolicies = (t: Record<string, any>) =>
      Object.entries<Record<string, any>>(t['Resources']).filter(([, r]) => r['Type'] === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r).includes('batch:SubmitJob'));
    expect(batchPolicies(a.template)).toHaveLength(0);
    expect(batchPolicies(b.template).length).toBeGreaterThan(0);
    const strip = (t: Record<string, any>) => {
      const s = withoutCode(t);
      for (const [id] of batchPolicies(t)) delete s['Resources'][id];
      return s;
    };
    const machines = (t: Record<string, any>) =>
      Object.entries<Record<string, any>>(t['Resources'])
        .filter(([, r]) => r['Type'] === 'AWS::StepFunctions::StateMachine')
        .map(([id, r]) => [id, r['Properties']['StateMachineName'], r['Properties']['StateMachineType'], r['Properties']['DefinitionString']]);
    expect(machines(b.template)).toStrictEqual(machines(a.template));
    expect(machines(a.template)).toHaveLength(8 + 3);
    expect(Object.keys(strip(b.template)['Resources']).sort()).toStrictEqual(Object.keys(strip(a.template)['Resources']).sort());
    // What differs is in place: the IAM policies of the roles that reach Batch (its first task), and with
    // them their suppressions and the functions' DependsOn; never a state machine, a role, the table, the
    // bucket or a function's configuration.
    const sa = strip(a.template)['Resources'] as Record<string, Record<string, any>>;
    const sb = strip(b.template)['Resources'] as Record<string, Record<string, any>>;
    const changed = Object.keys(sa).filter((k) => JSON.stringify(sa[k]) !== JSON.stringify(sb[k]));
    expect(changed.map((k) => sa[k]!['Type'])).toStrictEqual(changed.map(() => expect.stringMatching(/^AWS::(IAM::Policy|IAM::Role|Lambda::Function)$/)));
    for (const k of changed) {
      const { Metadata: _ma, DependsOn: _da, ...ra } = sa[k]!;
      const { Metadata: _mb, DependsOn: _db, ...rb } = sb[k]!;
      if (ra['Type'] === 'AWS::IAM::Policy') {
        expect(rb['Properties']['Roles']).toStrictEqual(ra['Properties']['Roles']);
        continue;
      }
      // A role's or a function's own properties are the same: only the metadata and DependsOn moved.
      expect([k, rb]).toStrictEqual([k, ra]);
    }
  });
});

describe('two stacks in one account', () => {
  it('share no state machine, log group or other physical name, even when their names share a long beginning', () => {
    // Both in one app (one account), made before either is synthesized.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const dags = [dag({ dagId: 'etl' }, ({ task }) => void task('extract', () => 1))];
    const long = 'team-data-pipelines-production-eu';
    const stacks = [`${long}-a`, `${long}-b`].map((name) => new AirlessStack(app, name, { dags: { specs: dags.map((d) => d.spec), dagsModule: 'x.ts' } }));
    const [a, b] = stacks.map((stack) => ({ stack, template: Template.fromStack(stack).toJSON() as Record<string, any> })) as [{ stack: AirlessStack; template: Record<string, any> }, { stack: AirlessStack; template: Record<string, any> }];
    const names = (t: Record<string, any>) => physicalNames(t).map((n) => n.replace(/ \(.*\)$/, ''));
    expect(names(a.template).filter((n) => n.startsWith('AWS::StepFunctions::StateMachine'))).toHaveLength(11);
    expect(names(a.template).some((n) => n.startsWith('AWS::Logs::LogGroup /aws/vendedlogs/states/'))).toBe(true);
    const shared = names(a.template).filter((n) => names(b.template).includes(n));
    expect(shared).toStrictEqual([]);
    // Each stack's machines carry its own prefix, and the functions find them by it.
    expect(a.stack.airless.naming.prefix).not.toBe(b.stack.airless.naming.prefix);
    expect(a.stack.airless.naming.prefix.startsWith(long.slice(0, 32))).toBe(true);
    const env = (x: { stack: AirlessStack; template: Record<string, any> }) => x.template['Resources'][Stack.of(x.stack).getLogicalId(x.stack.airless.functions.scheduler.node.defaultChild as never)]['Properties']['Environment']['Variables'];
    expect(env(a)['STATE_MACHINE_NAME_PREFIX']).toBe(a.stack.airless.naming.prefix);
    expect(env(b)['STATE_MACHINE_NAME_PREFIX']).toBe(b.stack.airless.naming.prefix);
  });

  it('one stack name in two apps (another construct path) gets another prefix too', () => {
    const dags = [dag({ dagId: 'etl' }, ({ task }) => void task('extract', () => 1))];
    const a = new AirlessStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Pipelines', { dags: { specs: dags.map((d) => d.spec), dagsModule: 'x.ts' } });
    const app2 = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const b = new AirlessStack(app2, 'PipelinesCopy', { dags: { specs: dags.map((d) => d.spec), dagsModule: 'x.ts' }, stackName: 'Pipelines' });
    expect(a.stackName).toBe(b.stackName);
    expect(a.airless.naming.prefix).not.toBe(b.airless.naming.prefix);
  });
});
