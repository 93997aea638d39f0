import type { DagSpec, TaskSpec } from '../model/spec.ts';

/** Mermaid node ids: `t_`/`g_` + the id with every character outside [A-Za-z0-9_] as '_', made unique. */
class IdMap {
  private readonly used = new Set<string>();
  private readonly ids = new Map<string, string>();
  constructor(private readonly prefix: string) {}
  get(id: string): string {
    let out = this.ids.get(id);
    if (out !== undefined) return out;
    const base = `${this.prefix}${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
    out = base;
    for (let n = 2; this.used.has(out); n++) out = `${base}_${n}`;
    this.used.add(out);
    this.ids.set(id, out);
    return out;
  }
}

/** A label inside double quotes: Mermaid's entity for '"', nothing else needs escaping. */
function quote(text: string): string {
  return `"${text.replace(/"/g, '#quot;')}"`;
}

function label(t: TaskSpec): string {
  let text = t.taskId;
  if (t.mapping) text += ' [ ]';
  if (t.iterate) text += ' (iterate)';
  if (t.triggerDag) text += ` (triggers ${t.triggerDag.triggerDagId})`;
  return quote(text);
}

/** The node's shape by task kind: branches are diamonds, sensors stadiums, triggers subroutines. */
function node(id: string, t: TaskSpec): string {
  const l = label(t);
  switch (t.kind) {
    case 'branch':
    case 'short_circuit':
      return `${id}{${l}}`;
    case 'sensor':
      return `${id}([${l}])`;
    case 'trigger_dag':
      return `${id}[[${l}]]`;
    case 'batch':
      return `${id}[/${l}/]`;
    case 'empty':
      return `${id}(${l})`;
    case 'task':
      return `${id}[${l}]`;
    case 'hitl':
      return `${id}[/${l}\\]`;
  }
}

/**
 * The DAG's graph as Mermaid: `flowchart LR`, one node per task (labelled with its task id; a mapped
 * task marked `[ ]`), task groups as (nested) subgraphs, and one `upstream --> downstream` edge per
 * dependency. Node ids are Mermaid-safe (`t_` + the task id with dots and dashes as '_').
 */
export function dagToMermaid(spec: DagSpec): string {
  const taskIds = new IdMap('t_');
  const groupIds = new IdMap('g_');
  for (const t of spec.tasks) taskIds.get(t.taskId);
  const lines: string[] = ['flowchart LR'];
  const known = new Set(spec.groups.map((g) => g.groupId));
  // A group (or task) whose parent group is unknown is drawn at the top level rather than lost.
  const parentOf = (id: string | null) => (id !== null && known.has(id) ? id : null);
  const childGroups = (parent: string | null) => spec.groups.filter((g) => parentOf(g.parentGroupId) === parent);
  const emit = (groupId: string | null, depth: number) => {
    const indent = '  '.repeat(depth);
    for (const g of childGroups(groupId)) {
      lines.push(`${indent}subgraph ${groupIds.get(g.groupId)} [${quote(g.groupId)}]`);
      emit(g.groupId, depth + 1);
      lines.push(`${indent}end`);
    }
    for (const t of spec.tasks) if (parentOf(t.groupId) === groupId) lines.push(`${indent}${node(taskIds.get(t.taskId), t)}`);
  };
  emit(null, 1);
  for (const t of spec.tasks) for (const d of t.downstream) lines.push(`  ${taskIds.get(t.taskId)} --> ${taskIds.get(d)}`);
  return lines.join('\n') + '\n';
}
