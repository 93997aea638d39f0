// What a bench child process (one scenario, one batch system) shares: failing on bad arguments, and
// handing its result to the parent (bench/run.ts) over IPC, or printing it when run alone.

export function fail(message: string): never {
  throw new Error(message);
}

/** Send the result to the parent process (or print it as one JSON line when there is none) and exit; exit 1 with the error's stack if it fails. */
export function reportResult(result: Promise<unknown>): void {
  result.then(
    (r) => {
      if (process.send) process.send(r, () => process.exit(0));
      else {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        process.exit(0);
      }
    },
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
