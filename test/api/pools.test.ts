import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import { harness, type Harness } from './harness.ts';

/** A task body that says when it started and ends when released. */
function gated() {
  const started: string[] = [];
  const waiting = new Map<string, () => void>();
  const startedListeners: (() => void)[] = [];
  return {
    started,
    body: (id: string) => async () => {
      started.push(id);
      for (const l of startedListeners.splice(0)) l();
      await new Promise<void>((resolve) => waiting.set(id, resolve));
      return id;
    },
    /** Resolves once `n` tasks have started. */
    async untilStarted(n: number): Promise<void> {
      while (started.length < n) await new Promise<void>((resolve) => startedListeners.push(resolve));
    },
    release(id: string) {
      const r = waiting.get(id);
      if (!r) throw new Error(`task ${id} is not waiting`);
      waiting.delete(id);
      r();
    },
  };
}

const gate = gated();
const throttled = dag({ dagId: 'api_pooled', maxActiveTasks: 10 }, () => {
  task('a', gate.body('a'), { pool: 'api_throttle' });
  task('b', gate.body('b'), { pool: 'api_throttle' });
});
const missing = dag({ dagId: 'api_missing_pool' }, () => {
  task('t', () => 1, { pool: 'nowhere' });
});

let h: Harness;
beforeAll(async () => {
  h = await harness([throttled, missing]);
});
afterAll(async () => {
  await h.app.close();
});

const EMPTY = { occupied_slots: 0, running_slots: 0, queued_slots: 0, deferred_slots: 0, include_deferred: false };

describe('/api/v2/pools', () => {
  it('default_pool is always listed, first', async () => {
    const r = await h.call('GET', '/api/v2/pools');
    expect(r.status).toBe(200);
    expect(r.json.pools[0]).toStrictEqual({ name: 'default_pool', slots: 1_000_000, description: null, ...EMPTY, open_slots: 1_000_000 });
  });

  it('creates a pool (201), refuses the same name again (409), gets it, lists it by pattern', async () => {
    const r = await h.call('POST', '/api/v2/pools', { name: 'api_throttle', slots: 1, description: 'the vendor API' });
    expect(r.status).toBe(201);
    expect(r.json).toStrictEqual({ name: 'api_throttle', slots: 1, description: 'the vendor API', ...EMPTY, open_slots: 1 });
    const again = await h.call('POST', '/api/v2/pools', { name: 'api_throttle', slots: 3 });
    expect(again.status).toBe(409);
    expect(again.json).toStrictEqual({ detail: "pool 'api_throttle' exists already (change it with PATCH /api/v2/pools/api_throttle)", field: 'body.name' });
    expect((await h.call('GET', '/api/v2/pools/api_throttle')).json.slots).toBe(1);
    const listed = await h.call('GET', '/api/v2/pools?pool_name_pattern=THROTTLE');
    expect(listed.json.pools.map((p: { name: string }) => p.name)).toStrictEqual(['api_throttle']);
    expect(listed.json.total_entries).toBe(1);
  });

  it('refuses bad slots and names, naming the field', async () => {
    const bad = await h.call('POST', '/api/v2/pools', { name: 'p', slots: -2 });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('body.slots');
    expect(bad.json.detail).toContain('>= -1');
    const frac = await h.call('POST', '/api/v2/pools', { name: 'p', slots: 1.5 });
    expect(frac.status).toBe(400);
    expect(frac.json.field).toBe('body.slots');
    const name = await h.call('POST', '/api/v2/pools', { name: 'has space', slots: 1 });
    expect(name.status).toBe(400);
    expect(name.json.field).toBe('body.name');
    const rename = await h.call('PATCH', '/api/v2/pools/api_throttle', { name: 'other' });
    expect(rename.status).toBe(400);
    expect(rename.json).toStrictEqual({ detail: "body.name 'other' is not the pool's name 'api_throttle' (a pool cannot be renamed)", field: 'body.name' });
  });

  it('unknown pools are 404; default_pool cannot be deleted (400)', async () => {
    const r = await h.call('GET', '/api/v2/pools/nope');
    expect(r.status).toBe(404);
    expect(r.json.detail).toMatch(/^pool 'nope' not found \(pools: default_pool, api_throttle/);
    expect((await h.call('PATCH', '/api/v2/pools/nope', { slots: 2 })).status).toBe(404);
    expect((await h.call('DELETE', '/api/v2/pools/nope')).status).toBe(404);
    const d = await h.call('DELETE', '/api/v2/pools/default_pool');
    expect(d.status).toBe(400);
    expect(d.json.detail).toBe("pool 'default_pool' cannot be deleted (set its slots instead)");
  });

  it('counts the slots tries hold; shrinking below them lets them finish and starts none; growing starts the waiting one', async () => {
    const run = await h.call('POST', '/api/v2/dags/api_pooled/dagRuns', { dag_run_id: 'r1' });
    expect(run.status).toBe(200);
    await gate.untilStarted(1);
    const first = gate.started[0]!;
    const second = first === 'a' ? 'b' : 'a';
    const held = await h.call('GET', '/api/v2/pools/api_throttle');
    expect(held.json).toMatchObject({ slots: 1, occupied_slots: 1, running_slots: 1, queued_slots: 0, open_slots: 0 });
    const waiting = await h.call('GET', `/api/v2/dags/api_pooled/dagRuns/r1/taskInstances/${second}`);
    expect(waiting.json.state).toBe('scheduled');

    // Held slots: the pool cannot be deleted.
    const del = await h.call('DELETE', '/api/v2/pools/api_throttle');
    expect(del.status).toBe(409);
    expect(del.json.detail).toBe("pool 'api_throttle' cannot be deleted: tries hold 1 of its slots (1 running, 0 queued); wait for them to end (set its slots to 0 so that no new one starts)");

    const shrunk = await h.call('PATCH', '/api/v2/pools/api_throttle', { slots: 0 });
    expect(shrunk.status).toBe(200);
    expect(shrunk.json).toMatchObject({ slots: 0, description: 'the vendor API', occupied_slots: 1, running_slots: 1, open_slots: 0 });
    gate.release(first);
    await h.idle();
    expect((await h.call('GET', `/api/v2/dags/api_pooled/dagRuns/r1/taskInstances/${first}`)).json.state).toBe('success');
    expect((await h.call('GET', `/api/v2/dags/api_pooled/dagRuns/r1/taskInstances/${second}`)).json.state).toBe('scheduled');
    expect(gate.started).toStrictEqual([first]);
    expect((await h.call('GET', '/api/v2/pools/api_throttle')).json).toMatchObject({ occupied_slots: 0, open_slots: 0 });

    const grown = await h.call('PATCH', '/api/v2/pools/api_throttle', { slots: 2 });
    expect(grown.json).toMatchObject({ slots: 2 });
    await gate.untilStarted(2);
    expect(gate.started).toStrictEqual([first, second]);
    gate.release(second);
    await h.idle();
    expect((await h.call('GET', '/api/v2/dags/api_pooled/dagRuns/r1')).json.state).toBe('success');
    expect((await h.call('GET', '/api/v2/pools/api_throttle')).json).toMatchObject({ occupied_slots: 0, open_slots: 2 });
  });

  it('an unlimited pool (-1) has open_slots -1; a pool with nothing held is deleted (204)', async () => {
    const r = await h.call('PATCH', '/api/v2/pools/api_throttle', { slots: -1, description: null });
    expect(r.json).toStrictEqual({ name: 'api_throttle', slots: -1, description: null, ...EMPTY, open_slots: -1 });
    expect((await h.call('DELETE', '/api/v2/pools/api_throttle')).status).toBe(204);
    expect((await h.call('GET', '/api/v2/pools/api_throttle')).status).toBe(404);
  });

  it("a task whose pool does not exist fails with a message naming the ways to create it", async () => {
    await h.call('POST', '/api/v2/dags/api_missing_pool/dagRuns', { dag_run_id: 'm1' });
    await h.idle();
    const ti = await h.call('GET', '/api/v2/dags/api_missing_pool/dagRuns/m1/taskInstances/t');
    expect(ti.json.state).toBe('failed');
    expect(ti.json.error.name).toBe('PoolError');
    expect(ti.json.error.message).toContain("pool 'nowhere' does not exist: create it with `airless pools set nowhere <slots>`");
    expect(ti.json.error.message).toContain("the Airless construct's pools prop");
  });
});
