import { visibleLength } from './ansi.ts';

export interface TableOptions {
  /** Right-align these columns (by index). Default: none. */
  alignRight?: readonly number[];
  /** Text between columns. Default two spaces. */
  gap?: string;
}

/** A plain-text table: a header, a rule, then the rows; cells may hold ANSI colours. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const gap = options.gap ?? '  ';
  const right = new Set(options.alignRight ?? []);
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visibleLength(c)));
        return right.has(i) ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join(gap)
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
