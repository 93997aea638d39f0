/**
 * release_approval: a person approves a data release and fills in its notes before it is published.
 *
 *   build_release -> approve_release (approval, 4h timeout, default Reject)
 *                 -> release_notes (hitlForm: a JSON-Schema field per value)
 *                 -> publish (uses both answers)
 *
 * - `approval()` asks Approve or Reject and waits deferred, holding no worker and no pool slot. Reject
 *   skips the direct downstream tasks (as a short-circuit does); nobody answering within 4 hours takes
 *   the default, Reject, so nothing is published by accident.
 * - `hitlForm()` asks for values checked against JSON Schemas (with defaults), as DAG params are.
 * - A human-in-the-loop task's result is the answer: `chosenOptions`, `paramsInput`, `respondedBy`,
 *   `respondedAt`, `timedOut`.
 *
 * Answer from the CLI (`airless tasks pending`, `airless tasks respond`), the REST API (`hitlDetails`) or
 * the web UI. Try it locally:
 *   npx airless dags test release_approval --respond approve_release=Approve --respond-input release_notes.title='"Spring data release"'
 */
import { approval, dag, hitlForm, task, type HitlAnswer } from 'airless';

export interface ReleaseCandidate {
  release: string;
  files: number;
  sizeGb: number;
}

export const releaseApproval = dag(
  {
    dagId: 'release_approval',
    description: 'A person approves a data release and writes its notes before it is published',
    params: { release: { type: 'string', default: 'dr-2026-04' } },
    tags: ['example', 'human-in-the-loop'],
  },
  () => {
    const candidate = task('build_release', (ctx): ReleaseCandidate => {
      const release = String(ctx.params.release);
      ctx.log.info(`release ${release} is ready for review`);
      return { release, files: 1284, sizeGb: 412.5 };
    });
    const approved = approval('approve_release', {
      subject: 'Publish release {{ conf.release }}?',
      body: 'Run {{ run_id }} of {{ dag_id }} built the release. Approve to publish it; Reject skips publishing.',
      timeout: '4h',
      defaultOption: 'Reject',
    });
    const notes = hitlForm('release_notes', {
      subject: 'Release notes for {{ conf.release }}',
      params: {
        title: { type: 'string', minLength: 3, default: 'Data release' },
        embargoDays: { type: 'integer', minimum: 0, maximum: 365, default: 0, description: 'Days before the data is public' },
        channels: { type: 'array', items: { type: 'string', enum: ['mailing-list', 'website', 'archive'] }, default: ['website'] },
      },
    });
    const publish = task('publish', (ctx, a: { release: ReleaseCandidate; approved: HitlAnswer; notes: HitlAnswer }) => {
      const { title, embargoDays, channels } = a.notes.paramsInput as { title: string; embargoDays: number; channels: string[] };
      ctx.log.info(`publishing ${a.release.release} (${a.release.files} files), approved by ${a.approved.respondedBy ?? 'default'}: "${title}" on ${channels.join(', ')}, embargo ${embargoDays} d`);
      return { release: a.release.release, title, channels, embargoDays, approvedBy: a.approved.respondedBy };
    });
    candidate.before(approved);
    approved.before(notes);
    publish({ release: candidate, approved, notes });
  },
);
