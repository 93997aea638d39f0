import { approval, dag, hitlForm, task, type HitlAnswer } from 'airless';

/** An approval assigned to one user, then a form, then a task that uses both answers. */
export default dag({ dagId: 'remote_release', tags: ['fixture'] }, () => {
  const ok = approval('approve', { subject: 'Ship {{ run_id }}?', assignedTo: ['ana'] });
  const notes = hitlForm('notes', { subject: 'Release notes', params: { version: { type: 'string' }, replicas: { type: 'integer', default: 2 } } });
  const ship = task('ship', (_ctx, a: { ok: HitlAnswer; notes: HitlAnswer }) => `${a.ok.chosenOptions[0]} by ${a.ok.respondedBy}: ${JSON.stringify(a.notes.paramsInput)}`);
  ok.before(notes);
  ship({ ok, notes });
});
