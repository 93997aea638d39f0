/**
 * A try's log: the lines, a level filter, a search that highlights its matches (next/previous, Enter and
 * Shift+Enter), and a download of the whole log of the try as a .log file.
 */
import { Fragment, useEffect, useRef, useState, type ReactNode } from 'react';
import type { LogLine } from '../api.ts';

type Level = LogLine['level'];

/** The levels a log line carries, least severe first. */
export const LOG_LEVELS: readonly Level[] = ['info', 'warn', 'error'];

/** A log line as text, as in the downloaded file: `<timestamp> <LEVEL> <message>`. */
export function logLineText(line: LogLine): string {
  return `${line.timestamp} ${line.level.toUpperCase().padEnd(5)} ${line.event}`;
}

/** A file name made of the parts, safe on every file system (`:` and `/` of run ids replaced). */
export function logFileName(parts: readonly string[]): string {
  return `${parts.map((p) => p.replace(/[^\w.-]+/g, '_')).join('__')}.log`;
}

function download(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // After the click has started the download.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Where `query` occurs in `text`, case-insensitively (non-overlapping). */
function occurrences(text: string, query: string): number[] {
  if (query === '') return [];
  const hay = text.toLowerCase();
  const needle = query.toLowerCase();
  const at: number[] = [];
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

interface Props {
  /** The try's lines; undefined while loading. */
  lines: readonly LogLine[] | undefined;
  /** The name of the downloaded file. */
  fileName: string;
  tryNumber: number;
}

export function LogView({ lines: loaded, fileName, tryNumber }: Props) {
  const lines = loaded ?? [];
  const [query, setQuery] = useState('');
  const [hidden, setHidden] = useState<ReadonlySet<Level>>(new Set());
  const [current, setCurrent] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  const shown = lines.filter((l) => !hidden.has(l.level));
  const counts = new Map<Level, number>(LOG_LEVELS.map((lv) => [lv, lines.filter((l) => l.level === lv).length]));
  const found = shown.map((l) => occurrences(l.event, query));
  const total = found.reduce((n, f) => n + f.length, 0);
  const currentMatch = total === 0 ? -1 : ((current % total) + total) % total;

  useEffect(() => {
    pre.current?.querySelector('mark.current')?.scrollIntoView({ block: 'nearest' });
  }, [currentMatch, query]);

  const step = (by: number) => setCurrent((c) => (total === 0 ? 0 : (((c + by) % total) + total) % total));
  const toggleLevel = (lv: Level) => {
    const next = new Set(hidden);
    if (next.has(lv)) next.delete(lv);
    else next.add(lv);
    setHidden(next);
    setCurrent(0);
  };

  let matchIndex = 0;
  const highlight = (text: string, at: readonly number[]): ReactNode => {
    if (at.length === 0) return text;
    const parts: ReactNode[] = [];
    let from = 0;
    for (const i of at) {
      const isCurrent = matchIndex === currentMatch;
      parts.push(
        <Fragment key={i}>
          {text.slice(from, i)}
          <mark className={`log-match${isCurrent ? ' current' : ''}`} data-testid={isCurrent ? 'log-match-current' : 'log-match'} data-match={matchIndex}>
            {text.slice(i, i + query.length)}
          </mark>
        </Fragment>,
      );
      matchIndex += 1;
      from = i + query.length;
    }
    parts.push(text.slice(from));
    return parts;
  };

  return (
    <>
      <div className="log-toolbar" data-testid="log-toolbar">
        <input
          type="search"
          aria-label="Search in the log"
          placeholder="Search in the log"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setCurrent(0);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              step(e.shiftKey ? -1 : 1);
            }
          }}
          data-testid="log-search"
        />
        <button type="button" aria-label="Previous match" disabled={total === 0} onClick={() => step(-1)} data-testid="log-search-prev">
          ↑
        </button>
        <button type="button" aria-label="Next match" disabled={total === 0} onClick={() => step(1)} data-testid="log-search-next">
          ↓
        </button>
        <span className="muted small" role="status" aria-live="polite" data-testid="log-search-count">
          {query === '' ? '' : total === 0 ? 'no match' : `${currentMatch + 1} of ${total}`}
        </span>
        <span className="spacer" />
        <div className="chip-group" role="group" aria-label="Log levels shown" data-testid="log-levels">
          {LOG_LEVELS.map((lv) => (
            <button
              key={lv}
              type="button"
              className={`chip level-${lv}${hidden.has(lv) ? '' : ' active'}`}
              aria-pressed={!hidden.has(lv)}
              onClick={() => toggleLevel(lv)}
              data-testid="log-level"
              data-level={lv}
            >
              {lv.toUpperCase()} <span className="count">{counts.get(lv)}</span>
            </button>
          ))}
        </div>
        <button type="button" onClick={() => download(fileName, lines.map((l) => `${logLineText(l)}\n`).join(''))} data-testid="log-download" disabled={lines.length === 0}>
          Download .log
        </button>
      </div>
      <pre className="log" data-testid="ti-log" data-try-number={tryNumber} ref={pre} tabIndex={0} aria-label={`Log of try ${tryNumber}`}>
        {loaded?.length === 0 && <span className="muted">(no log lines)</span>}
        {lines.length > 0 && shown.length === 0 && <span className="muted">(every line is of a hidden level)</span>}
        {shown.map((line, i) => (
          <div key={i} className={`log-line level-${line.level}`} data-level={line.level}>
            <span className="muted">{line.timestamp}</span> <span className="level">{line.level.toUpperCase()}</span> {highlight(line.event, found[i] ?? [])}
          </div>
        ))}
      </pre>
    </>
  );
}
