/** Pools (Airflow 3's `/api/v2/pools`): list, get, create, change, delete, with what their slots are used for. */
import { DEFAULT_POOL } from '../../authoring/options.ts';
import { OperationError } from '../../scheduler/operation-error.ts';
import { deletePool, getPool, listPools, PoolNotFoundError, poolUsage, setPool, type PoolUsage } from '../../scheduler/pools.ts';
import type { PoolRecord } from '../../store/records.ts';
import type { StateStore } from '../../store/state-store.ts';
import { HttpError } from '../http-error.ts';
import { likeMatches } from '../like.ts';
import { poolList, poolListQuery, poolParams, poolPatchBody, poolPostBody, poolRef, poolSchema } from '../pool-schemas.ts';
import { noContent, responses } from '../schemas.ts';
import { paginate, type Page, type RouteContext } from './context.ts';

/** The API's Pool object. */
export function toPool(u: PoolUsage) {
  return {
    name: u.name,
    slots: u.slots,
    description: u.description === '' ? null : u.description,
    include_deferred: false,
    occupied_slots: u.occupied,
    running_slots: u.running,
    queued_slots: u.queued,
    deferred_slots: u.deferred,
    open_slots: u.open,
  };
}

interface PoolBody {
  name?: string;
  slots?: number;
  description?: string | null;
  include_deferred?: boolean;
}

async function findPool(store: StateStore, name: string): Promise<PoolRecord> {
  const pool = await getPool(store, name);
  if (!pool) throw new HttpError(404, `pool '${name}' not found (pools: ${(await listPools(store)).map((p) => p.name).join(', ')})`, 'params.pool_name');
  return pool;
}

export function poolRoutes({ app, backend }: RouteContext): void {
  app.addSchema(poolSchema);
  const usage = async (pool: PoolRecord) => toPool(await poolUsage(backend.store, pool));

  app.get<{ Querystring: Page & { pool_name_pattern?: string } }>(
    '/api/v2/pools',
    { schema: { summary: 'List pools', description: "default_pool first, then in the order they were created.", tags: ['Pool'], operationId: 'get_pools', querystring: poolListQuery, response: responses(poolList) } },
    async (request) => {
      const q = request.query;
      const all = (await listPools(backend.store)).filter((p) => q.pool_name_pattern === undefined || likeMatches(q.pool_name_pattern, p.name));
      const { items, total } = paginate(all, q);
      const pools = [];
      for (const p of items) pools.push(await usage(p));
      return { pools, total_entries: total };
    },
  );

  app.get<{ Params: { pool_name: string } }>(
    '/api/v2/pools/:pool_name',
    { schema: { summary: 'Get a pool', tags: ['Pool'], operationId: 'get_pool', params: poolParams, response: responses(poolRef) } },
    async (request) => usage(await findPool(backend.store, request.params.pool_name)),
  );

  app.post<{ Body: PoolBody & { name: string; slots: number } }>(
    '/api/v2/pools',
    {
      schema: {
        summary: 'Create a pool',
        description: '409 when a pool of that name exists (change it with PATCH).',
        tags: ['Pool'],
        operationId: 'post_pool',
        body: poolPostBody,
        response: responses(poolRef, 201, 'Created.'),
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (await getPool(backend.store, b.name)) throw new HttpError(409, `pool '${b.name}' exists already (change it with PATCH /api/v2/pools/${b.name})`, 'body.name');
      const { pool } = await backend.withScheduler(({ scheduler, run }) => run(setPool(scheduler, { name: b.name, slots: b.slots, description: b.description ?? '' })));
      return reply.code(201).send(await usage(pool));
    },
  );

  app.patch<{ Params: { pool_name: string }; Body: PoolBody }>(
    '/api/v2/pools/:pool_name',
    {
      schema: {
        summary: "Change a pool's slots or description",
        description: 'Fields left out are kept. Growing it queues the instances waiting for its slots; shrinking it below what tries hold lets them finish and starts no new one until enough came back.',
        tags: ['Pool'],
        operationId: 'patch_pool',
        params: poolParams,
        body: poolPatchBody,
        response: responses(poolRef),
      },
    },
    async (request) => {
      const name = request.params.pool_name;
      const b = request.body;
      if (b.name !== undefined && b.name !== name) throw new HttpError(400, `body.name '${b.name}' is not the pool's name '${name}' (a pool cannot be renamed)`, 'body.name');
      const old = await findPool(backend.store, name);
      const { pool } = await backend.withScheduler(({ scheduler, run }) =>
        run(setPool(scheduler, { name, slots: b.slots ?? old.slots, description: b.description === undefined ? old.description : (b.description ?? '') })),
      );
      return usage(pool);
    },
  );

  app.delete<{ Params: { pool_name: string } }>(
    '/api/v2/pools/:pool_name',
    {
      schema: {
        summary: 'Delete a pool',
        description: `${DEFAULT_POOL} cannot be deleted (400); a pool whose slots tries hold cannot either (409: wait for them, setting its slots to 0 so that no new one starts). Instances waiting for its slots fail with a PoolError.`,
        tags: ['Pool'],
        operationId: 'delete_pool',
        params: poolParams,
        response: responses(noContent, 204, 'Deleted.'),
      },
    },
    async (request, reply) => {
      const name = request.params.pool_name;
      try {
        await backend.withScheduler(({ scheduler, run }) => run(deletePool(scheduler, name)));
      } catch (e) {
        if (e instanceof PoolNotFoundError) throw new HttpError(404, e.message, 'params.pool_name');
        if (e instanceof OperationError && name !== DEFAULT_POOL) throw new HttpError(409, e.message, 'params.pool_name');
        if (e instanceof OperationError) throw new HttpError(400, e.message, 'params.pool_name');
        throw e;
      }
      return reply.code(204).send();
    },
  );
}
