import { diffLines } from 'diff';

interface DiffRow {
  kind: 'added' | 'removed' | 'same';
  /** Line number in the old text (null for an added line). */
  oldLine: number | null;
  /** Line number in the new text (null for a removed line). */
  newLine: number | null;
  text: string;
}

/** The lines of two texts as one list: kept, removed (old) and added (new), with each side's line numbers. */
export function lineDiffRows(before: string, after: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let o = 1;
  let n = 1;
  for (const part of diffLines(before, after)) {
    const lines = part.value.replace(/\n$/, '').split('\n');
    for (const text of lines) {
      if (part.added) rows.push({ kind: 'added', oldLine: null, newLine: n++, text });
      else if (part.removed) rows.push({ kind: 'removed', oldLine: o++, newLine: null, text });
      else rows.push({ kind: 'same', oldLine: o++, newLine: n++, text });
    }
  }
  return rows;
}

/** A unified line diff of one file (`before` absent: added; `after` absent: removed). */
export function LineDiff({ path, before, after }: { path: string; before: string; after: string }) {
  const rows = lineDiffRows(before, after);
  return (
    <div className="source" data-testid="line-diff" data-path={path} tabIndex={0} role="region" aria-label={`changes of ${path}`}>
      <table className="code diff">
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} className={r.kind} data-kind={r.kind}>
              <td className="ln">{r.oldLine ?? ''}</td>
              <td className="ln">{r.newLine ?? ''}</td>
              <td className="sign">{r.kind === 'added' ? '+' : r.kind === 'removed' ? '-' : ' '}</td>
              <td className="line">{r.text}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
