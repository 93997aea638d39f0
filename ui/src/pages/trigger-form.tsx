import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, call, client } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { errorSchemaFor } from '../components/params-form.tsx';
import { runPath, useDagId, useViewBase } from '../dag-view.ts';
import { keys, useDag } from '../queries.ts';

type Conf = Record<string, unknown>;

/**
 * Trigger a DAG run: a form generated from the DAG's params JSON Schema (defaults filled, validated inline
 * as the user types), plus an optional run id and note. The API validates the conf again; its 400 is shown
 * under the field it names too.
 */
export function TriggerForm() {
  const dagId = useDagId();
  const base = useViewBase();
  const dag = useDag(dagId);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [conf, setConf] = useState<Conf | undefined>(undefined);
  const [runId, setRunId] = useState('');
  const [note, setNote] = useState('');
  const trigger = useMutation({
    mutationFn: (body: { conf: Conf; dag_run_id?: string; note?: string }) =>
      call(client.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path: { dag_id: dagId } }, body })),
    onSuccess: async (run) => {
      await queryClient.invalidateQueries({ queryKey: keys.runs(dagId) });
      await navigate(runPath(base, run.dag_run_id));
    },
  });
  const apiError = trigger.error instanceof ApiError ? trigger.error : null;
  const fieldErrors = apiError === null ? null : errorSchemaFor<Conf>(apiError, 'body.conf.');
  const runIdError = apiError !== null && apiError.field === 'body.dag_run_id' ? apiError.detail : null;

  if (dag.error) return <ErrorBox error={dag.error} />;
  if (dag.data === undefined) return <p className="muted">Loading…</p>;
  const schema = dag.data.params_schema as RJSFSchema;
  return (
    <div className="panel" data-testid="trigger-panel">
      <div className="panel-head">
        <h2>Trigger {dagId}</h2>
        <Link to={base} className="close" aria-label="close">
          ×
        </Link>
      </div>
      <div className="trigger-extra">
        <label>
          Run id <span className="muted small">(optional)</span>
          <input
            value={runId}
            onChange={(e) => {
              setRunId(e.target.value);
              if (trigger.isError) trigger.reset();
            }}
            placeholder="manual__<now>"
            aria-invalid={runIdError !== null}
            data-testid="trigger-run-id"
          />
          {runIdError !== null && (
            <span className="field-error" role="alert" data-testid="trigger-run-id-error">
              {runIdError}
            </span>
          )}
        </label>
        <label>
          Note <span className="muted small">(optional)</span>
          <input value={note} onChange={(e) => setNote(e.target.value)} data-testid="trigger-note" />
        </label>
      </div>
      <h3>Params</h3>
      <div data-testid="trigger-form">
        <Form<Conf, RJSFSchema>
          schema={schema}
          validator={validator}
          {...(conf === undefined ? {} : { formData: conf })}
          onChange={(e) => {
            setConf(e.formData);
            if (trigger.isError) trigger.reset();
          }}
          onSubmit={(e) => {
            const body: { conf: Conf; dag_run_id?: string; note?: string } = { conf: e.formData ?? {} };
            if (runId.trim() !== '') body.dag_run_id = runId.trim();
            if (note.trim() !== '') body.note = note.trim();
            trigger.mutate(body);
          }}
          {...(fieldErrors === null ? {} : { extraErrors: fieldErrors })}
          liveValidate="onChange"
          noHtml5Validate
          showErrorList={false}
          disabled={trigger.isPending}
        >
          <button type="submit" className="primary" disabled={trigger.isPending} data-testid="trigger-submit">
            ▶ Trigger
          </button>
        </Form>
      </div>
      {trigger.error && fieldErrors === null && runIdError === null && <ErrorBox error={trigger.error} />}
    </div>
  );
}
