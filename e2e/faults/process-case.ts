// One fault case run by a real process on a SQLite store: `node --import tsx e2e/faults/process-case.ts
// '<json>'` with {db, dagId, plan, resume}. In mode 'die' the process SIGKILLs itself right after the
// faulted write committed; the sweep then starts this script again with resume: true, as a restarted
// standalone would resume. The ledger goes to the file AIRLESS_FAULT_LEDGER names. Prints
// `result <json>` ({writes, recovered}) when it ends by itself.
import { SqliteStateStore } from '../../lib/store/sqlite-store.ts';
import type { FaultPlan } from './fault-store.ts';
import { driveCase, T0 } from './sweep.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { db: string; dagId: string; plan: FaultPlan; resume?: boolean };
const store = new SqliteStateStore({ path: args.db });
const drive = await driveCase({ incarnation: (injector) => injector.wrap(store), check: store }, args.dagId, args.plan, {
  resume: args.resume ?? false,
  // A process restarted after a kill starts later than anything the killed one did (its fake clock ran on).
  ...(args.resume ? { clockStart: T0 + 3_600_000 } : {}),
  onDie: () => process.kill(process.pid, 'SIGKILL'),
});
store.close();
process.stdout.write(`result ${JSON.stringify(drive)}\n`);
