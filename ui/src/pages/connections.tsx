/**
 * Connections: the list (passwords never shown: the API masks them), a form to add one or edit one (a
 * password left as *** keeps the stored one), and delete.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { call, client, type ResponseOf } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';

type Connection = ResponseOf<'/api/v2/connections', 'get'>['connections'][number];

const CONNECTIONS_KEY = ['connections'] as const;

interface Form {
  connection_id: string;
  conn_type: string;
  host: string;
  port: string;
  login: string;
  password: string;
  schema: string;
  extra: string;
  description: string;
}

const empty: Form = { connection_id: '', conn_type: '', host: '', port: '', login: '', password: '', schema: '', extra: '', description: '' };

/** The form as the API's body (empty text as null), or why it is not one. */
function bodyOf(f: Form): { body: Connection } | { problem: string } {
  const text = (s: string) => (s === '' ? null : s);
  let port: number | null = null;
  if (f.port !== '') {
    port = Number(f.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return { problem: 'The port must be a whole number from 0 to 65535.' };
  }
  if (f.extra.trim() !== '') {
    try {
      JSON.parse(f.extra);
    } catch (e) {
      return { problem: `The extra is not JSON: ${(e as Error).message}` };
    }
  }
  return {
    body: { connection_id: f.connection_id, conn_type: f.conn_type, host: text(f.host), port, login: text(f.login), password: text(f.password), schema: text(f.schema), extra: text(f.extra.trim()), description: text(f.description) },
  };
}

const FIELDS: readonly { name: keyof Form; label: string; type?: string }[] = [
  { name: 'conn_type', label: 'Type' },
  { name: 'host', label: 'Host' },
  { name: 'port', label: 'Port', type: 'number' },
  { name: 'login', label: 'Login' },
  { name: 'password', label: 'Password', type: 'password' },
  { name: 'schema', label: 'Schema' },
];

export function Connections() {
  const id = useId();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: CONNECTIONS_KEY, queryFn: () => call(client.GET('/api/v2/connections', { params: { query: { limit: 1000 } } })) });
  const [form, setForm] = useState<Form>(empty);
  const [editing, setEditing] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const done = () => {
    setForm(empty);
    setEditing(null);
    void queryClient.invalidateQueries({ queryKey: CONNECTIONS_KEY });
  };
  const save = useMutation({
    mutationFn: (body: Connection) =>
      editing === null
        ? call(client.POST('/api/v2/connections', { body }))
        : call(client.PATCH('/api/v2/connections/{connection_id}', { params: { path: { connection_id: editing } }, body })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: (connectionId: string) => call(client.DELETE('/api/v2/connections/{connection_id}', { params: { path: { connection_id: connectionId } } })),
    onSuccess: done,
  });
  const edit = (c: Connection) => {
    save.reset();
    setProblem(null);
    setEditing(c.connection_id);
    const s = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));
    setForm({ connection_id: c.connection_id, conn_type: c.conn_type, host: s(c.host), port: s(c.port), login: s(c.login), password: s(c.password), schema: s(c.schema), extra: s(c.extra), description: s(c.description) });
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = bodyOf(form);
    if ('problem' in parsed) {
      setProblem(parsed.problem);
      return;
    }
    setProblem(null);
    save.mutate(parsed.body);
  };
  const connections = list.data?.connections ?? [];
  return (
    <section data-testid="connections-page">
      <h1>Connections</h1>
      <p className="muted small">Tasks read them with <code>ctx.connections.get(id)</code>: <code>AIRLESS_CONN_&lt;ID&gt;</code> first, then the secrets backend, then these.</p>
      <ErrorBox error={list.error ?? remove.error} />
      {list.data && connections.length === 0 && (
        <p className="muted" data-testid="no-connections">
          No connections yet.
        </p>
      )}
      {connections.length > 0 && (
        <table className="table" data-testid="connections-table">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Type</th>
              <th scope="col">Host</th>
              <th scope="col">Port</th>
              <th scope="col">Login</th>
              <th scope="col">Password</th>
              <th scope="col">Schema</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {connections.map((c) => (
              <tr key={c.connection_id} data-testid="connection-row" data-id={c.connection_id}>
                <td className="mono">{c.connection_id}</td>
                <td>{c.conn_type}</td>
                <td className="mono">{c.host ?? ''}</td>
                <td>{c.port ?? ''}</td>
                <td>{c.login ?? ''}</td>
                <td className="mono" data-testid="connection-password-cell">
                  {c.password ?? ''}
                </td>
                <td>{c.schema ?? ''}</td>
                <td>
                  <button type="button" className="link-button" onClick={() => edit(c)} aria-label={`Edit connection ${c.connection_id}`} data-testid="connection-edit">
                    Edit
                  </button>{' '}
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => window.confirm(`Delete connection '${c.connection_id}'?`) && remove.mutate(c.connection_id)}
                    aria-label={`Delete connection ${c.connection_id}`}
                    data-testid="connection-delete"
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section className="panel" aria-labelledby={`${id}-title`} data-testid="connection-form">
        <h2 id={`${id}-title`}>{editing === null ? 'Add a connection' : `Edit connection ${editing}`}</h2>
        <form className="backfill-form" onSubmit={onSubmit}>
          <label>
            Connection id
            <input value={form.connection_id} onChange={(e) => setForm({ ...form, connection_id: e.target.value })} required disabled={editing !== null} data-testid="connection-id" />
          </label>
          {FIELDS.map((f) => (
            <label key={f.name}>
              {f.label}
              <input
                type={f.type ?? 'text'}
                value={form[f.name]}
                onChange={(e) => setForm({ ...form, [f.name]: e.target.value })}
                required={f.name === 'conn_type'}
                autoComplete={f.name === 'password' ? 'new-password' : 'off'}
                data-testid={`connection-${f.name}`}
              />
            </label>
          ))}
          <label className="wide">
            Extra <span className="muted small">(JSON object, optional)</span>
            <textarea rows={2} value={form.extra} onChange={(e) => setForm({ ...form, extra: e.target.value })} data-testid="connection-extra" />
          </label>
          <label className="wide">
            Description
            <input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} data-testid="connection-description" />
          </label>
          <div className="buttons wide">
            <button type="submit" className="primary" disabled={save.isPending} data-testid="connection-save">
              {editing === null ? 'Add' : 'Save'}
            </button>
            {editing !== null && (
              <button type="button" onClick={() => { setEditing(null); setForm(empty); }} data-testid="connection-cancel">
                Cancel
              </button>
            )}
          </div>
        </form>
        {problem !== null && <ErrorBox error={problem} />}
        <ErrorBox error={save.error} />
      </section>
    </section>
  );
}
