/** e2e_secrets: a task reading a variable and a connection from the secrets backend, one from the store. */
import { dag } from 'airless';

export const e2eSecrets = dag({ dagId: 'e2e_secrets', description: 'variables and connections, deployed' }, ({ task }) => {
  task('connect', async (ctx) => {
    const db = await ctx.connections.get('e2e_warehouse');
    const region = await ctx.variables.get('e2e_region');
    const batch = await ctx.variables.get<{ size: number }>('e2e_batch', { json: true });
    ctx.log.info(`connecting to ${db.getUri()} as ${db.login} with password ${db.password} in ${region}`);
    return { host: db.host, schema: db.schema, port: db.port, region, size: batch.size };
  });
});
