/**
 * Where the CLI writes. In JSON mode stdout is reserved for the one JSON document: anything else that
 * would reach stdout (a DAG file printing at import, a callback printing outside a try) goes to stderr.
 */
export class Terminal {
  private readonly realStdoutWrite: typeof process.stdout.write;
  private reserved = false;

  constructor(
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    this.realStdoutWrite = stdout.write.bind(stdout);
  }

  /** Send every write to stdout to stderr instead; returns the function that undoes it. */
  private divert(): () => void {
    // Kept to be put back as the stream's own property, never called unbound.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = this.stdout.write;
    const err = this.stderr;
    this.stdout.write = (chunk: unknown, ...rest: unknown[]) => (err.write as (...a: unknown[]) => boolean)(chunk, ...rest);
    return () => {
      this.stdout.write = original;
    };
  }

  /** From now on, only {@link out} writes to stdout; every other write to it goes to stderr. */
  reserveStdout(): void {
    if (this.reserved) return;
    this.reserved = true;
    this.divert();
  }

  /**
   * Run `work` with stdout sent to stderr: what DAG files print when they are imported is a
   * diagnostic, not the command's output.
   */
  async divertStdout<T>(work: () => Promise<T>): Promise<T> {
    if (this.reserved) return work();
    const undo = this.divert();
    try {
      return await work();
    } finally {
      undo();
    }
  }

  /** Write to stdout (even when reserved); resolves when the text is handed to the OS. */
  out(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.realStdoutWrite(text, () => resolve());
    });
  }

  /** Write to stderr; resolves when the text is handed to the OS. */
  err(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.stderr.write(text, () => resolve());
    });
  }

  /** Whether stdout is a terminal (and not reserved for JSON). */
  get interactive(): boolean {
    return this.stdout.isTTY === true && !this.reserved;
  }
}
