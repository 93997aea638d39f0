/** e2e_chain: three tasks in a row, each passing its result on (for the lost-event test). */
import { dag } from 'airless';

export const e2eChain = dag({ dagId: 'e2e_chain', description: 'extract -> transform -> load' }, ({ task }) => {
  const extract = task('extract', () => [3, 1, 2]);
  const transform = task('transform', (_ctx, rows: number[]) => [...rows].sort((a, b) => a - b))(extract);
  task('load', (_ctx, rows: number[]) => ({ loaded: rows.length }))(transform);
});
