/**
 * partitioned_iteration: map over observation nights, iterate over each night's files inside the night's
 * own task instance (dynamic task partitioning).
 *
 * - `.expand<Night>(nights)` makes one task instance per night (the partition): scheduled, retried,
 *   cleared and shown on its own, as mapping does.
 * - `.iterate((night) => files, { concurrency, itemRetries })` gives each instance its night's files; the
 *   instance runs them `concurrency` at a time, a failing file retried in place up to `itemRetries`
 *   times, and keeps each finished file's result: a retry of the night reruns only its failed files.
 *   The function runs once per night (when the instance prepares its items); what it returned is kept
 *   with the instance, so every try sees the same files.
 * - The downstream gets one list per night (its files' results, in file order), nights in map-index order.
 *
 * The first attempt at the third file of every night fails on purpose (a flaky read), to show item
 * retries; ctx.partition is the night being reduced.
 */
import { dag, type TaskContext } from 'airless';

export interface Night {
  /** The observing night, YYYY-MM-DD. */
  date: string;
  /** Measurement sets recorded that night. */
  files: number;
}

export interface FileStats {
  file: string;
  /** Visibilities kept after flagging, in per cent. */
  keptPercent: number;
}

/** The file index whose first attempt fails (to show item retries). */
const FLAKY_FILE = 2;

/** Flag one measurement set (simulated: a deterministic fraction of its visibilities). */
function flagFile(ctx: TaskContext, file: string): FileStats {
  if (ctx.item?.index === FLAKY_FILE && ctx.item.tryNumber === 1) throw new Error(`reading ${file} timed out (simulated)`);
  let h = 0;
  for (const c of file) h = (h * 31 + c.charCodeAt(0)) % 1000;
  return { file, keptPercent: 85 + (h % 150) / 10 };
}

export const partitionedIteration = dag(
  {
    dagId: 'partitioned_iteration',
    description: 'Nights as partitions (one task instance each), each night\'s files iterated inside its instance',
    params: {
      nights: { type: 'integer', minimum: 0, maximum: 366, default: 4, description: 'Observing nights.' },
      filesPerNight: { type: 'integer', minimum: 0, maximum: 10000, default: 12, description: 'Measurement sets per night.' },
    },
    defaultArgs: { retries: 1, retryDelay: '1s' },
    tags: ['mapping', 'iteration', 'example'],
  },
  ({ task }) => {
    const nights = task('list_nights', ({ params }): Night[] =>
      Array.from({ length: params.nights }, (_, i) => ({
        date: new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10),
        files: params.filesPerNight,
      })),
    );

    // One instance per night; each flags its night's files, 4 at a time, a failing file retried in place.
    const flagged = task('flag_files', flagFile)
      .expand<Night>(nights)
      .iterate((night) => Array.from({ length: night.files }, (_, i) => `${night.date}/scan${String(i).padStart(3, '0')}.ms`), { concurrency: 4, itemRetries: 2 });

    task('summarise', (ctx, perNight: FileStats[][]) => {
      const nightsKept = perNight.map((files) => (files.length === 0 ? 0 : files.reduce((s, f) => s + f.keptPercent, 0) / files.length));
      const files = perNight.reduce((n, f) => n + f.length, 0);
      ctx.log.info(`${perNight.length} nights, ${files} files flagged`);
      return { nights: perNight.length, files, meanKeptPercent: nightsKept.map((k) => Math.round(k * 10) / 10) };
    })(flagged);
  },
);
