/** Plain ANSI escapes for colours and cursor movement (no dependency). */

export type Paint = (text: string) => string;

export interface Palette {
  green: Paint;
  red: Paint;
  yellow: Paint;
  blue: Paint;
  magenta: Paint;
  cyan: Paint;
  grey: Paint;
  bold: Paint;
  dim: Paint;
}

const wrap = (open: number, close: number): Paint => (text) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain: Paint = (text) => text;

/** Colours when `enabled`, identity functions otherwise. */
export function palette(enabled: boolean): Palette {
  if (!enabled) return { green: plain, red: plain, yellow: plain, blue: plain, magenta: plain, cyan: plain, grey: plain, bold: plain, dim: plain };
  return {
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    blue: wrap(34, 39),
    magenta: wrap(35, 39),
    cyan: wrap(36, 39),
    grey: wrap(90, 39),
    bold: wrap(1, 22),
    dim: wrap(2, 22),
  };
}

/** Whether to colour a stream: a TTY, unless NO_COLOR is set; FORCE_COLOR forces it. */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return stream.isTTY === true;
}

export const cursor = {
  /** Move to the start of the line `n` lines up. */
  up: (n: number): string => (n > 0 ? `\x1b[${n}F` : '\r'),
  clearDown: '\x1b[0J',
  hide: '\x1b[?25l',
  show: '\x1b[?25h',
};

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Visible width (code points; no East Asian width tables). */
export function visibleLength(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Cut a line to `width` visible characters; a cut line loses its colours. */
export function truncateLine(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  const chars = [...stripAnsi(text)];
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** Pad to `width` visible characters. */
export function padVisible(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}
