import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { paths } from '../../../lib/api/openapi-types.ts';
import { call, client } from '../api.ts';
import { ErrorBox } from '../components/error-box.tsx';

type Pool = paths['/api/v2/pools']['get']['responses'][200]['content']['application/json']['pools'][number];

/** How often the slot counts refresh while the page is open. */
const REFRESH_MS = 3000;
const POOLS_KEY = ['pools'] as const;
const DEFAULT_POOL = 'default_pool';

function usePools() {
  return useQuery({
    queryKey: POOLS_KEY,
    queryFn: () => call(client.GET('/api/v2/pools', { params: { query: { limit: 1000 } } })),
    refetchInterval: REFRESH_MS,
  });
}

const slotsText = (n: number) => (n === -1 ? 'unlimited' : String(n));

/** SLOTS typed in the form: an integer >= 0, or -1; else why not. */
function parseSlots(text: string): number | string {
  const t = text.trim();
  if (!/^-?\d+$/.test(t) || Number(t) < -1) return `slots must be an integer >= 0, or -1 for unlimited; got '${text}'`;
  return Number(t);
}

/** The form that creates a pool, or edits one (its name fixed). */
function PoolForm({ editing, onDone }: { editing: Pool | null; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(editing?.name ?? '');
  const [slots, setSlots] = useState(editing ? String(editing.slots) : '');
  const [description, setDescription] = useState(editing?.description ?? '');
  const [problem, setProblem] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: async (b: { name: string; slots: number; description: string }) =>
      editing
        ? call(client.PATCH('/api/v2/pools/{pool_name}', { params: { path: { pool_name: editing.name } }, body: { slots: b.slots, description: b.description } }))
        : call(client.POST('/api/v2/pools', { body: b })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: POOLS_KEY });
      onDone();
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const n = parseSlots(slots);
    if (typeof n === 'string') return setProblem(n);
    setProblem(null);
    save.mutate({ name: name.trim(), slots: n, description: description.trim() });
  };
  return (
    <section className="panel" data-testid="pool-form">
      <h2>{editing ? `Edit pool ${editing.name}` : 'New pool'}</h2>
      <form className="backfill-form" onSubmit={onSubmit}>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required disabled={editing !== null} data-testid="pool-name" />
        </label>
        <label>
          Slots <span className="muted small">(-1: unlimited; 0: none starts)</span>
          <input value={slots} onChange={(e) => setSlots(e.target.value)} required inputMode="numeric" data-testid="pool-slots" />
        </label>
        <label className="wide">
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} data-testid="pool-description" />
        </label>
        <div className="buttons wide">
          <button type="submit" className="primary" disabled={save.isPending} data-testid="pool-save">
            {editing ? 'Save' : 'Create pool'}
          </button>
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        </div>
      </form>
      {problem !== null && (
        <p className="field-error" role="alert" data-testid="pool-problem">
          {problem}
        </p>
      )}
      <ErrorBox error={save.error} />
    </section>
  );
}

/**
 * The pools: slots, and how many running and queued tries hold; create, edit (slots, description) and
 * delete (not default_pool, nor a pool whose slots are held: the server says why).
 */
export function Pools() {
  const pools = usePools();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<{ editing: Pool | null } | null>(null);
  const remove = useMutation({
    mutationFn: (name: string) => call(client.DELETE('/api/v2/pools/{pool_name}', { params: { path: { pool_name: name } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: POOLS_KEY }),
  });
  const list = pools.data?.pools ?? [];
  return (
    <section>
      <div className="panel-head">
        <h1>Pools</h1>
        <button type="button" className="primary" onClick={() => setForm({ editing: null })} data-testid="pool-new">
          New pool
        </button>
      </div>
      <p className="muted small">A try takes its task&apos;s pool slots while it is queued or running; a deferred one holds none.</p>
      <ErrorBox error={pools.error} />
      <ErrorBox error={remove.error} />
      {form !== null && <PoolForm key={form.editing?.name ?? ''} editing={form.editing} onDone={() => setForm(null)} />}
      <table className="table" data-testid="pools-table">
        <thead>
          <tr>
            <th>Pool</th>
            <th>Slots</th>
            <th>Running</th>
            <th>Queued</th>
            <th>Open</th>
            <th>Description</th>
            <th aria-label="actions" />
          </tr>
        </thead>
        <tbody>
          {list.map((p) => (
            <tr key={p.name} data-testid="pool-row" data-pool={p.name}>
              <td className="mono">{p.name}</td>
              <td>{slotsText(p.slots)}</td>
              <td>{p.running_slots}</td>
              <td>{p.queued_slots}</td>
              <td>{slotsText(p.open_slots)}</td>
              <td>{p.description ?? ''}</td>
              <td>
                <button type="button" className="link-button" onClick={() => setForm({ editing: p })} data-testid="pool-edit">
                  Edit
                </button>{' '}
                {p.name !== DEFAULT_POOL && (
                  <button
                    type="button"
                    className="link-button"
                    disabled={remove.isPending}
                    onClick={() => window.confirm(`Delete pool ${p.name}?`) && remove.mutate(p.name)}
                    data-testid="pool-delete"
                  >
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
