/**
 * e2e_hitl_*: human-in-the-loop tasks on the deployed shape (the `hitl` machine's waitForTaskToken wait).
 * - e2e_hitl_approval: an approval (the timeout, an hour, takes Approve) before `ship`.
 * - e2e_hitl_strict: an approval without a default: a timeout fails it.
 * - e2e_hitl_form: a form whose values `use` reads.
 */
import { approval, dag, hitlForm } from 'airless';

export const e2eHitlApproval = dag({ dagId: 'e2e_hitl_approval', description: 'An approval before shipping' }, ({ task }) => {
  const approve = approval('approve', { subject: 'Ship run {{ run_id }}?', body: 'The calibration passed QA.', timeout: '1h', defaultOption: 'Approve' });
  task('ship', () => 'shipped').after(approve);
});

export const e2eHitlStrict = dag({ dagId: 'e2e_hitl_strict', description: 'An approval that fails at its timeout' }, ({ task }) => {
  const approve = approval('approve', { subject: 'Go on?', timeout: '30m' });
  task('after', () => 'went on').after(approve);
});

export const e2eHitlForm = dag({ dagId: 'e2e_hitl_form', description: 'A form whose values a task reads' }, ({ task }) => {
  const details = hitlForm('details', {
    subject: 'Imaging settings',
    params: { channels: { type: 'integer', minimum: 1, maximum: 4096, default: 64 }, robust: { type: 'number', default: 0.5 } },
  });
  task('use', (_ctx, answer: { paramsInput: Record<string, unknown> }) => `imaging ${String(answer.paramsInput['channels'])} channels`)(details);
});
