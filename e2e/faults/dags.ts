// The DAGs the fault-injection sweep runs: small, and together every kind of step the scheduler takes
// (a chain, a fan-out and fan-in, a mapped task, a triggered child run, a sensor, a Batch array with a
// child that fails once). Each try of task code writes a line to the ledger, so the sweep can check
// that no try's code ran twice.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dag, type Dag } from '../../lib/index.ts';

/** (run, task, map index, try) of every try whose code started, in the order they started. */
export const ledger: string[] = [];

/**
 * With AIRLESS_FAULT_LEDGER set, the ledger is also appended to that file (a case run by real processes),
 * and a process starts with what earlier processes of the case wrote there.
 */
const ledgerFile = process.env.AIRLESS_FAULT_LEDGER;
if (ledgerFile && existsSync(ledgerFile)) ledger.push(...readFileSync(ledgerFile, 'utf8').split('\n').filter(Boolean));

function note(ctx: { runId: string; taskId: string; mapIndex: number | null; tryNumber: number }, poke?: number): void {
  const line = `${ctx.runId}|${ctx.taskId}|${ctx.mapIndex ?? -1}|${ctx.tryNumber}${poke === undefined ? '' : `|poke ${poke}`}`;
  ledger.push(line);
  if (ledgerFile) appendFileSync(ledgerFile, `${line}\n`);
}

const defaultArgs = { retries: 2, retryDelay: '10s' } as const;

export const faultDags: Dag[] = [
  dag({ dagId: 'fault_chain', defaultArgs }, ({ task, chain }) => {
    const a = task('a', (ctx) => (note(ctx), 1));
    const b = task('b', (ctx, x: number) => (note(ctx), x + 1))(a);
    const c = task('c', (ctx, x: number) => (note(ctx), x * 10))(b);
    chain(c, task('d', (ctx) => void note(ctx)));
  }),
  dag({ dagId: 'fault_fan', defaultArgs }, ({ task }) => {
    const start = task('start', (ctx) => (note(ctx), 3));
    const parts = ['x1', 'x2', 'x3'].map((id) => task(id, (ctx, n: number) => (note(ctx), n))(start));
    task('join', (ctx, xs: number[]) => (note(ctx), xs.reduce((s, x) => s + x, 0)))(parts);
  }),
  dag({ dagId: 'fault_map', defaultArgs }, ({ task }) => {
    const list = task('list', (ctx) => (note(ctx), [1, 2, 3, 4]));
    const sq = task('square', (ctx, x: number) => (note(ctx), x * x)).expand(list);
    task('sum', (ctx, xs: number[]) => (note(ctx), xs.reduce((s, x) => s + x, 0)))(sq);
  }),
  dag({ dagId: 'fault_child', defaultArgs }, ({ task }) => {
    task('work', (ctx) => (note(ctx), 'done'));
  }),
  dag({ dagId: 'fault_parent', defaultArgs }, ({ task, triggerDag }) => {
    const go = triggerDag('go', { triggerDagId: 'fault_child', waitForCompletion: true });
    task('after', (ctx) => void note(ctx)).after(go);
  }),
  dag({ dagId: 'fault_sensor', defaultArgs }, ({ task, sensor }) => {
    // Done at its third poke of a try (a retried try pokes again). Its pokes are counted in the ledger,
    // so a process that resumes the try after a restart counts on from the pokes made before it.
    const wait = sensor(
      'wait',
      (ctx) => {
        const prefix = `${ctx.runId}|${ctx.taskId}|${ctx.mapIndex ?? -1}|${ctx.tryNumber}|poke `;
        const n = ledger.filter((l) => l.startsWith(prefix)).length + 1;
        note(ctx, n);
        return n >= 3;
      },
      { pokeInterval: '30s' },
    );
    task('after', (ctx) => void note(ctx)).after(wait);
  }),
  dag({ dagId: 'fault_array', defaultArgs }, ({ task, batchJob }) => {
    const inputs = task('plan', (ctx) => (note(ctx), [0, 1, 2].map((i) => ({ environment: { TILE: String(i) } }))));
    const jobs = batchJob('jobs', { jobQueue: 'q', jobDefinition: 'd', local: { simulate: { duration: '5s' } } }).expandKwargs(inputs);
    task('summary', (ctx, rs: { status: string }[]) => (note(ctx), rs.map((r) => r.status)))(jobs);
  }),
];

/** The DAGs the sweep triggers (the child runs only when its parent triggers it). */
export const SWEEP_DAG_IDS = ['fault_chain', 'fault_fan', 'fault_map', 'fault_parent', 'fault_sensor', 'fault_array'] as const;
