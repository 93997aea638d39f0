// Store calls per task instance of a local run, by method: what one finished try costs the store.
// A chain of N trivial tasks through the LocalRunner on a counting proxy of the memory store.
//   node --import tsx bench/store-calls.ts [N]      (default 20; prints one JSON line)
import { dag, FakeClock, LocalRunner, MemoryStateStore, task } from '../lib/index.ts';

const n = Number(process.argv[2] ?? 20);
if (!Number.isInteger(n) || n < 1) throw new Error(`the number of tasks must be a positive integer, got ${process.argv[2]}`);
const counts = new Map<string, number>();
const store = new MemoryStateStore();
const counted = new Proxy(store, {
  get(target, prop, receiver) {
    const v: unknown = Reflect.get(target, prop, receiver);
    if (typeof v !== 'function') return v;
    return (...args: unknown[]): unknown => {
      counts.set(String(prop), (counts.get(String(prop)) ?? 0) + 1);
      return (v as (...a: unknown[]) => unknown).apply(target, args);
    };
  },
});
const d = dag({ dagId: 'store_calls' }, () => {
  let prev = task('t0', () => 0);
  for (let i = 1; i < n; i++) prev = task(`t${i}`, () => i).after(prev);
});
const runner = new LocalRunner({ dags: [d], store: counted, clock: new FakeClock(Date.UTC(2026, 0, 1)), captureConsole: false, guardCrashes: false });
const report = await runner.run({ dagId: 'store_calls', runId: 'r' });
runner.close();
if (report.state !== 'success') throw new Error(`the run ended ${report.state}`);
const per = (k: string) => Math.round(((counts.get(k) ?? 0) / n) * 100) / 100;
const total = [...counts.values()].reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ tasks: n, perTask: Math.round((total / n) * 100) / 100, getRun: per('getRun'), getPool: per('getPool'), getTaskInstance: per('getTaskInstance'), byMethod: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / n) * 100) / 100])) }));
