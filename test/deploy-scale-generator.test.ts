import { describe, expect, it } from 'vitest';
import { GENERATED_KINDS, generateDags, generatedKindOf, MAX_BATCH_PAIRS, MIN_TASKS_PER_DAG } from '../bench/deploy-scale/generate-dags.ts';
import { templateFigures } from '../bench/deploy-scale/template-figures.ts';
import { chooseWorkflowType } from '../lib/compiler/workflow-type.ts';

describe('the deploy-scale DAG generator', () => {
  it('makes the asked number of DAGs, each with the asked number of tasks and every kind', () => {
    const dags = generateDags({ dags: 3, tasksPerDag: 10 });
    expect(dags.map((d) => d.dagId)).toStrictEqual(['scale_0000', 'scale_0001', 'scale_0002']);
    for (const d of dags) {
      expect(d.spec.tasks).toHaveLength(10);
      expect(new Set(d.spec.tasks.map(generatedKindOf))).toStrictEqual(new Set(GENERATED_KINDS));
    }
  });

  it('has every kind at the smallest size it allows, and refuses fewer tasks naming the field', () => {
    const [d] = generateDags({ dags: 1, tasksPerDag: MIN_TASKS_PER_DAG });
    expect(new Set(d!.spec.tasks.map(generatedKindOf))).toStrictEqual(new Set(GENERATED_KINDS));
    expect(() => generateDags({ dags: 1, tasksPerDag: MIN_TASKS_PER_DAG - 1 })).toThrow(`tasksPerDag must be an integer >= ${MIN_TASKS_PER_DAG}, got ${MIN_TASKS_PER_DAG - 1}`);
    expect(() => generateDags({ dags: 0, tasksPerDag: 10 })).toThrow('dags must be an integer >= 1, got 0');
  });

  it('gives some tasks Express state machines and some Standard', () => {
    const types = new Set(generateDags({ dags: 1, tasksPerDag: 10 })[0]!.spec.tasks.map((t) => chooseWorkflowType(t).type));
    expect(types).toStrictEqual(new Set(['EXPRESS', 'STANDARD']));
  });

  it('names distinct Batch queue / definition pairs, at most 100', () => {
    const pairs = (dags: number, tasksPerDag: number) => {
      const queues = new Set<string>();
      const definitions = new Set<string>();
      for (const d of generateDags({ dags, tasksPerDag })) {
        for (const t of d.spec.tasks) {
          if (t.kind !== 'batch') continue;
          queues.add(t.batch.jobQueue!);
          definitions.add(t.batch.jobDefinition!);
        }
      }
      return { queues: queues.size, definitions: definitions.size };
    };
    // 10 tasks: one single and one array Batch job per DAG.
    expect(pairs(1, 10)).toStrictEqual({ queues: 2, definitions: 2 });
    expect(pairs(200, 25)).toStrictEqual({ queues: MAX_BATCH_PAIRS, definitions: MAX_BATCH_PAIRS });
  });
});

describe('the deploy-scale template figures', () => {
  it('sums a role\'s inline policies, counts its managed ones, and finds the largest of each', () => {
    // RoleB's one policy is longer than RoleA's two together.
    const long = 'b'.repeat(200);
    const doc = (resource: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }] });
    const f = templateFigures({
      Resources: {
        RoleA: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/x'] } },
        RoleB: { Type: 'AWS::IAM::Role', Properties: {} },
        PolicyA1: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: doc('a'), Roles: [{ Ref: 'RoleA' }] } },
        PolicyA2: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: doc('aa'), Roles: [{ Ref: 'RoleA' }] } },
        PolicyB: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: doc(long), Roles: [{ Ref: 'RoleB' }] } },
        OverflowA: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: doc('m'), Roles: [{ Ref: 'RoleA' }] } },
        Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: '{"StartAt":"é"}' } },
      },
    });
    const chars = (resource: string) => JSON.stringify(doc(resource)).length;
    expect(f.resources).toBe(7);
    expect(f.largestPolicy).toStrictEqual({ value: chars(long), of: 'PolicyB', kind: 'inline' });
    expect(f.largestManagedPolicy).toStrictEqual({ value: chars('m'), of: 'OverflowA' });
    expect(f.largestInlinePerRole).toStrictEqual({ value: chars(long), of: 'RoleB' });
    expect(f.mostManagedPerRole).toStrictEqual({ value: 2, of: 'RoleA' });
    // Bytes, not characters: the definition's 'é' is two.
    expect(f.largestDefinition).toStrictEqual({ value: 16, of: 'Machine' });
  });
});
