/**
 * A human-in-the-loop request and its answer form: the subject and body, a form's fields rendered with
 * rjsf from the request's params (as the trigger form renders a DAG's params), and the options as buttons
 * (one click answers) or, when several may be chosen, as checkboxes with a submit button. The API's
 * refusal is shown under what it names: a field of the form, or the options. An answered request shows
 * the answer; a closed one (its instance stopped waiting) says why.
 */
import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { useRef, useState } from 'react';
import { ApiError } from '../api.ts';
import { formatDate, json } from '../format.ts';
import { useAnswerHitl, type HitlDetail } from '../hitl-api.ts';
import { ErrorBox } from './error-box.tsx';
import { errorSchemaFor, paramsObjectSchema } from './params-form.tsx';

type Values = Record<string, unknown>;

/** What the answer was, and who gave it when. */
function Answer({ detail }: { detail: HitlDetail }) {
  const by = detail.timed_out ? 'the timeout' : (detail.responded_by_user?.id ?? 'an unknown user');
  const values = detail.params_input ?? {};
  return (
    <div className="hitl-answer" data-testid="hitl-answered">
      <p>
        <strong data-testid="hitl-chosen">{(detail.chosen_options ?? []).join(', ') || '(nothing)'}</strong>{' '}
        <span className="muted">
          by {by}, {formatDate(detail.responded_at)}
        </span>
      </p>
      {Object.keys(values).length > 0 && (
        <pre className="json" tabIndex={0} data-testid="hitl-params-input">
          {json(values)}
        </pre>
      )}
    </div>
  );
}

/** The form that answers a pending request. */
function AnswerForm({ detail }: { detail: HitlDetail }) {
  const answer = useAnswerHitl(detail);
  const [values, setValues] = useState<Values | undefined>(undefined);
  const [checked, setChecked] = useState<string[]>([]);
  // The option whose button submitted the form (one click answers a single-choice request).
  const clicked = useRef<string | null>(null);
  const apiError = answer.error instanceof ApiError ? answer.error : null;
  const fieldErrors = apiError === null ? null : errorSchemaFor<Values>(apiError, 'body.params_input.');
  const optionsError = apiError !== null && apiError.field !== null && apiError.field.startsWith('body.chosen_options') ? apiError.detail : null;
  const params = detail.params ?? null;
  const send = (formValues: Values | undefined) => {
    const chosen = detail.multiple ? checked : clicked.current === null ? [] : [clicked.current];
    answer.mutate({ chosen_options: chosen, ...(params === null ? {} : { params_input: formValues ?? {} }) });
  };
  const reset = () => {
    if (answer.isError) answer.reset();
  };
  const optionsId = `hitl-options-${detail.dag_id}-${detail.dag_run_id}-${detail.task_id}-${detail.map_index}`;
  const options = (
    <fieldset className="hitl-options" aria-describedby={optionsError === null ? undefined : `${optionsId}-error`} data-testid="hitl-options">
      <legend>{detail.multiple ? 'Choose one or more' : 'Choose'}</legend>
      {detail.multiple ? (
        <>
          {detail.options.map((o) => (
            <label key={o} className="hitl-check">
              <input
                type="checkbox"
                checked={checked.includes(o)}
                onChange={(e) => {
                  reset();
                  setChecked((c) => (e.target.checked ? [...c, o] : c.filter((x) => x !== o)));
                }}
                data-testid="hitl-option-check"
                data-option={o}
              />
              {o}
            </label>
          ))}
          <button type="submit" className="primary" disabled={answer.isPending} data-testid="hitl-submit">
            Submit
          </button>
        </>
      ) : (
        detail.options.map((o) => (
          <button
            key={o}
            type="submit"
            className={o === 'Reject' ? 'danger' : 'primary'}
            disabled={answer.isPending}
            onClick={() => (clicked.current = o)}
            data-testid="hitl-option"
            data-option={o}
          >
            {o}
          </button>
        ))
      )}
      {optionsError !== null && (
        <span id={`${optionsId}-error`} className="field-error" role="alert" data-testid="hitl-options-error">
          {optionsError}
        </span>
      )}
    </fieldset>
  );
  return (
    <div data-testid="hitl-form">
      {params === null ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            send(undefined);
          }}
        >
          {options}
        </form>
      ) : (
        <Form<Values, RJSFSchema>
          schema={paramsObjectSchema(params)}
          validator={validator}
          {...(values === undefined ? {} : { formData: values })}
          onChange={(e) => {
            setValues(e.formData);
            reset();
          }}
          onSubmit={(e) => send(e.formData)}
          {...(fieldErrors === null ? {} : { extraErrors: fieldErrors })}
          liveValidate="onChange"
          noHtml5Validate
          showErrorList={false}
          disabled={answer.isPending}
        >
          {options}
        </Form>
      )}
      {answer.error && fieldErrors === null && optionsError === null && <ErrorBox error={answer.error} />}
    </div>
  );
}

/** A request: what it asks, who may answer until when, and its answer form (or its answer). */
export function HitlRequest({ detail, showTask = false }: { detail: HitlDetail; showTask?: boolean }) {
  const assigned = detail.assigned_users.map((u) => u.id);
  return (
    <section
      className="hitl-request"
      aria-label={detail.subject}
      data-testid="hitl-request"
      data-dag-id={detail.dag_id}
      data-run-id={detail.dag_run_id}
      data-task-id={detail.task_id}
      data-map-index={detail.map_index}
      data-answered={detail.response_received}
    >
      <h3 className="hitl-subject">{detail.subject}</h3>
      {showTask && (
        <p className="muted small mono">
          {detail.dag_id} / {detail.dag_run_id} / {detail.task_id}
          {detail.map_index >= 0 ? `[${detail.map_index}]` : ''} (try {detail.try_number})
        </p>
      )}
      {detail.body !== null && <p className="hitl-body">{detail.body}</p>}
      <p className="muted small">
        Asked {formatDate(detail.created_at)}
        {detail.timeout_at !== null && <> · times out {formatDate(detail.timeout_at)}</>}
        {assigned.length > 0 && <> · for {assigned.join(', ')}</>}
        {detail.defaults !== null && <> · default {detail.defaults.join(', ')}</>}
      </p>
      {detail.closed_reason !== null ? (
        <p className="hitl-closed muted" data-testid="hitl-closed">
          Closed without an answer {formatDate(detail.responded_at)}: {detail.closed_reason}
        </p>
      ) : detail.response_received ? (
        <Answer detail={detail} />
      ) : (
        <AnswerForm detail={detail} />
      )}
    </section>
  );
}
