/**
 * nightly_calibrator_check: a scheduled DAG. Every morning at 06:00 in Perth, after the night's
 * observing, check the flux of each calibrator observed that night against its model and report.
 *
 *   list_calibrators -> check_flux (mapped, one instance per calibrator) -> nightly_report
 *
 * - `schedule: { cron, timezone }`: the cron is read in that timezone (06:00 Australia/Perth is 22:00 UTC
 *   the day before). Deployed, it is an EventBridge Scheduler schedule with that cron and timezone; the
 *   standalone fires it on its own clock. A run's logical date is the time it was scheduled for.
 * - `startDate` and `catchup: false`: no runs are created for the nights before the DAG was deployed.
 *   Past nights are run on demand with a backfill, one run per scheduled time in the range:
 *
 *     npx airless backfill create --dag-id nightly_calibrator_check --from-date 2026-03-01 --to-date 2026-03-03
 *
 *   (logical dates 2026-03-01T22:00Z and 2026-03-02T22:00Z: the Perth mornings of 2 and 3 March).
 * - `ctx.logicalDate` says which night a run is about, so a backfilled run checks its own night.
 *
 * Try it: npx airless dags test nightly_calibrator_check
 */
import { dag, type TaskContext } from 'airless';

export interface CalibratorObservation {
  source: string;
  /** The night, as the Perth date of the morning after (YYYY-MM-DD). */
  night: string;
  /** Flux density measured at 1.4 GHz, Jy. */
  measuredJy: number;
}

export interface FluxCheck {
  source: string;
  night: string;
  /** Measured over model, as a percentage off the model (positive: brighter). */
  offsetPercent: number;
  ok: boolean;
}

export interface NightlyReport {
  night: string;
  checked: number;
  failed: string[];
}

/** Model flux densities at 1.4 GHz (Jy) of the flux calibrators. */
export const CALIBRATOR_MODELS_JY: Readonly<Record<string, number>> = { '3C286': 14.9, '3C138': 8.5, 'PKS1934-638': 14.9 };

/** A flux more than this far off its model fails the check. */
export const MAX_OFFSET_PERCENT = 5;

/** The Perth date of a logical date (the morning the run is for). */
export function perthDate(at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Australia/Perth', year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/**
 * The night's calibrator observations (simulated, deterministic per night): each source's flux off its
 * model by a few percent that depends on the date; 3C138 drifts 7% high on the 15th of any month.
 */
export function observationsOf(night: string): CalibratorObservation[] {
  const day = Number(night.slice(8, 10));
  return Object.entries(CALIBRATOR_MODELS_JY).map(([source, model], i) => {
    const offset = source === '3C138' && day === 15 ? 7 : (((day + i * 3) % 7) - 3) / 2;
    return { source, night, measuredJy: Math.round(model * (1 + offset / 100) * 1000) / 1000 };
  });
}

export const nightlyCalibratorCheck = dag(
  {
    dagId: 'nightly_calibrator_check',
    description: "Check the night's calibrator fluxes against their models, every morning at 06:00 Perth time",
    schedule: { cron: '0 6 * * *', timezone: 'Australia/Perth' },
    startDate: '2026-01-01',
    catchup: false,
    maxActiveRuns: 4,
    tags: ['scheduled', 'example'],
  },
  ({ task }) => {
    const calibrators = task('list_calibrators', (ctx: TaskContext): CalibratorObservation[] => {
      const night = perthDate(ctx.logicalDate);
      const list = observationsOf(night);
      ctx.log.info(`night of ${night} (${ctx.runType} run for ${ctx.logicalDate.toISOString()}): ${list.length} calibrator observations`);
      return list;
    });

    const checks = task('check_flux', (ctx, obs: CalibratorObservation): FluxCheck => {
      const model = CALIBRATOR_MODELS_JY[obs.source]!;
      const offsetPercent = Math.round(((obs.measuredJy - model) / model) * 1000) / 10;
      const ok = Math.abs(offsetPercent) <= MAX_OFFSET_PERCENT;
      ctx.log[ok ? 'info' : 'warn'](`${obs.source}: ${obs.measuredJy} Jy, model ${model} Jy (${offsetPercent > 0 ? '+' : ''}${offsetPercent}%)`);
      return { source: obs.source, night: obs.night, offsetPercent, ok };
    }).expand(calibrators);

    task('nightly_report', (ctx, results: FluxCheck[]): NightlyReport => {
      const failed = results.filter((r) => !r.ok).map((r) => r.source);
      const night = results[0]?.night ?? perthDate(ctx.logicalDate);
      ctx.log[failed.length ? 'warn' : 'info'](`night of ${night}: ${results.length} checked, ${failed.length ? `off their models: ${failed.join(', ')}` : 'all within ' + String(MAX_OFFSET_PERCENT) + '%'}`);
      return { night, checked: results.length, failed };
    })(checks);
  },
);
