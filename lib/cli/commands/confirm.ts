import { createInterface } from 'node:readline/promises';
import type { Terminal } from '../terminal.ts';
import { UsageError } from '../usage-error.ts';

/**
 * Ask `question` on the terminal (y/N) unless `yes`; without a terminal to ask on and without `yes`,
 * refuse with a UsageError that says to pass --yes. Resolves with whether to go on.
 */
export async function confirm(term: Terminal, question: string, yes: boolean | undefined, input: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  if (yes === true) return true;
  if (input.isTTY !== true || term.stderr.isTTY !== true) throw new UsageError(`${question.replace(/\?$/, '')}: not a terminal, so nothing to confirm with; pass --yes to go ahead`);
  const rl = createInterface({ input, output: term.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
