import { loadBag, requireDag, type GlobalOptions } from '../dag-lookup.ts';
import { dagToMermaid } from '../mermaid.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

/** `airless dags show <dagId>`: the DAG's graph as Mermaid text (paste it into a Markdown file). */
export async function dagsShow(term: Terminal, dagId: string, o: GlobalOptions): Promise<number> {
  const bag = await loadBag(term, o);
  await term.out(dagToMermaid(requireDag(bag, dagId).spec));
  return EXIT.ok;
}
