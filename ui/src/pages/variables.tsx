/**
 * Variables: the list (a sensitive key's value shows as *** as the API masks it), a form to add one or
 * edit one (a masked value left as *** keeps the stored one), and delete.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { call, client, type ResponseOf } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';

type Variable = ResponseOf<'/api/v2/variables', 'get'>['variables'][number];

const VARIABLES_KEY = ['variables'] as const;

const empty = { key: '', value: '', description: '' };

export function Variables() {
  const id = useId();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: VARIABLES_KEY, queryFn: () => call(client.GET('/api/v2/variables', { params: { query: { limit: 1000 } } })) });
  const [form, setForm] = useState(empty);
  const [editing, setEditing] = useState<string | null>(null);
  const done = () => {
    setForm(empty);
    setEditing(null);
    void queryClient.invalidateQueries({ queryKey: VARIABLES_KEY });
  };
  const save = useMutation({
    mutationFn: (f: typeof empty) =>
      editing === null
        ? call(client.POST('/api/v2/variables', { body: { key: f.key, value: f.value, description: f.description || null } }))
        : call(client.PATCH('/api/v2/variables/{variable_key}', { params: { path: { variable_key: editing } }, body: { value: f.value, description: f.description || null } })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: (key: string) => call(client.DELETE('/api/v2/variables/{variable_key}', { params: { path: { variable_key: key } } })),
    onSuccess: done,
  });
  const edit = (v: Variable) => {
    save.reset();
    setEditing(v.key);
    setForm({ key: v.key, value: v.value, description: v.description ?? '' });
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(form);
  };
  const variables = list.data?.variables ?? [];
  return (
    <section data-testid="variables-page">
      <h1>Variables</h1>
      <p className="muted small">Tasks read them with <code>ctx.variables.get(key)</code>: <code>AIRLESS_VAR_&lt;KEY&gt;</code> first, then the secrets backend, then these.</p>
      <ErrorBox error={list.error ?? remove.error} />
      {list.data && variables.length === 0 && (
        <p className="muted" data-testid="no-variables">
          No variables yet.
        </p>
      )}
      {variables.length > 0 && (
        <table className="table" data-testid="variables-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Value</th>
              <th scope="col">Description</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {variables.map((v) => (
              <tr key={v.key} data-testid="variable-row" data-key={v.key}>
                <td className="mono">{v.key}</td>
                <td className="mono" data-testid="variable-value">
                  {v.value}
                </td>
                <td className="muted">{v.description ?? ''}</td>
                <td>
                  <button type="button" className="link-button" onClick={() => edit(v)} aria-label={`Edit variable ${v.key}`} data-testid="variable-edit">
                    Edit
                  </button>{' '}
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => window.confirm(`Delete variable '${v.key}'?`) && remove.mutate(v.key)}
                    aria-label={`Delete variable ${v.key}`}
                    data-testid="variable-delete"
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section className="panel" aria-labelledby={`${id}-title`} data-testid="variable-form">
        <h2 id={`${id}-title`}>{editing === null ? 'Add a variable' : `Edit variable ${editing}`}</h2>
        <form className="backfill-form" onSubmit={onSubmit}>
          <label>
            Key
            <input value={form.key} onChange={(e) => setForm({ ...form, key: e.target.value })} required disabled={editing !== null} data-testid="variable-key" />
          </label>
          <label className="wide">
            Value
            <textarea rows={2} value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} required data-testid="variable-value-input" />
          </label>
          <label className="wide">
            Description
            <input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} data-testid="variable-description" />
          </label>
          <div className="buttons wide">
            <button type="submit" className="primary" disabled={save.isPending} data-testid="variable-save">
              {editing === null ? 'Add' : 'Save'}
            </button>
            {editing !== null && (
              <button type="button" onClick={() => { setEditing(null); setForm(empty); }} data-testid="variable-cancel">
                Cancel
              </button>
            )}
          </div>
        </form>
        <ErrorBox error={save.error} />
      </section>
    </section>
  );
}
