// The example DAGs in dags/, run end to end on the local runner with a time-skipping fake clock (retry
// delays and simulated Batch jobs take no wall time). Every assertion is on exact states and values.
import { describe, expect, it } from 'vitest';
import { FakeClock, LocalRunner, type Dag, type PipelineSave, type RunRef, type RunReport } from 'airless';
import { batchFanout, type FanoutSummary } from '../dags/batch_fanout.ts';
import { branchingJoin, type RestoredImage } from '../dags/branching_join.ts';
import { exampleWorkflow, type WorkflowSummary } from '../dags/example_workflow.ts';
import { iterationVsMapping, type NoiseEstimate } from '../dags/iteration_vs_mapping.ts';
import { nightlyCalibratorCheck, type FluxCheck, type NightlyReport } from '../dags/nightly_calibrator_check.ts';
import { nextScheduleTime } from '../lib/model/schedule.ts';
import { solver, type CubeQa } from '../dags/solver.ts';
import { stageCalibration, type CalibrationQa } from '../dags/stage_calibration.ts';
import { stageImaging, type ImagingQa } from '../dags/stage_imaging.ts';
import { stageImportPrep, type ImportPrepQa } from '../dags/stage_import_prep.ts';
import { setupTeardown } from '../dags/setup_teardown.ts';
import type { SolverResult } from '../dags/_deconvolution.ts';
import { observationAlerts } from '../dags/observation_alerts.ts';
import { NotifyApi } from '../e2e/notify-api.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { errorText } from './helpers.ts';

const ALL_DAGS: Dag[] = [exampleWorkflow, stageImportPrep, stageCalibration, stageImaging, solver, batchFanout, iterationVsMapping, branchingJoin, setupTeardown, nightlyCalibratorCheck];

function newRunner(): { runner: LocalRunner; clock: FakeClock } {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  return { runner: new LocalRunner({ dags: ALL_DAGS, clock }), clock };
}

/** "state/tryNumber" of every task instance, by "taskId" or "taskId[mapIndex]". */
function states(r: RunReport): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of r.tasks) out[t.mapIndex === null ? t.taskId : `${t.taskId}[${t.mapIndex}]`] = `${t.state}/${t.tryNumber}`;
  return out;
}

/** The same state for `count` map indexes of a task. */
function mapped(taskId: string, count: number, state: string): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${taskId}[${i}]`, state]));
}

async function xcom<T>(runner: LocalRunner, run: RunRef, taskId: string, mapIndex = -1): Promise<T> {
  const x = await runner.store.getXCom(run, taskId, mapIndex, 'return_value');
  if (!x) throw new Error(`no XCom for ${taskId}[${mapIndex}] in ${run.runId} of ${run.dagId}`);
  return x.value as T;
}

function child(r: RunReport, dagId: string): RunReport {
  const c = r.triggeredRuns?.find((t) => t.dagId === dagId);
  if (!c) throw new Error(`run ${r.runId} triggered no run of ${dagId}`);
  return c;
}

/** Saves without their time, which follows the clock. */
const withoutTime = (saves: PipelineSave[]) => saves.map(({ time: _time, ...rest }) => rest);

const NCHAN_DEFAULT = 16;
const STAGE_CONF_DEFAULT = { simulate_failures: false, failure_rate: 0.1 };

describe('example_workflow', () => {
  it('runs every stage DAG in order with default params and succeeds, with exact task states', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'example_workflow' });

    expect(report.state).toBe('success');
    expect(states(report)).toEqual({
      plan_stages: 'success/1',
      run_import_prep: 'success/1',
      run_calibration: 'success/1',
      run_imaging: 'success/1',
      pipeline_summary: 'success/1',
    });
    expect(report.triggeredRuns?.map((r) => [r.dagId, r.state])).toEqual([
      ['stage_import_prep', 'success'],
      ['stage_calibration', 'success'],
      ['stage_imaging', 'success'],
    ]);
    expect(states(child(report, 'stage_import_prep'))).toEqual({
      import_ms: 'success/1',
      flag_data: 'success/1',
      qa_import_prep: 'success/1',
    });
    expect(states(child(report, 'stage_calibration'))).toEqual({
      check_import_qa: 'success/1',
      'calibrate.set_flux_model': 'success/1',
      'calibrate.solve_bandpass': 'success/1',
      'calibrate.solve_gains': 'success/1',
      'calibrate.apply_calibration': 'success/1',
      qa_calibration: 'success/1',
    });
    const imaging = child(report, 'stage_imaging');
    expect(states(imaging)).toEqual({
      check_calibration_qa: 'success/1',
      plan_cube: 'success/1',
      solve_cube: 'success/1',
      qa_imaging: 'success/1',
    });
    const solverRun = child(imaging, 'solver');
    expect(solverRun.state).toBe('success');
    expect(states(solverRun)).toEqual({
      generate_process_list: 'success/1',
      ...mapped('execute_single_solver', NCHAN_DEFAULT, 'success/1'),
      collect: 'success/1',
    });
    expect(solverRun.triggeredRuns).toBeUndefined();
    // With no conf, the defaults of example_workflow's params go down to every stage.
    for (const r of [...(report.triggeredRuns ?? []), solverRun]) {
      const { nchan: _nchan, ...failureParams } = (await runner.store.getRun(r))?.params ?? {};
      expect(failureParams).toEqual(STAGE_CONF_DEFAULT);
    }
    expect((await runner.store.getRun(solverRun))?.params['nchan']).toBe(NCHAN_DEFAULT);
  });

  it('passes its params down as conf: every triggered run sees the same failure settings, imaging and solver the cube size', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'example_workflow', conf: { nchan: 5, failure_rate: 0.25 } });
    expect(report.state).toBe('success');
    const stageConf = { simulate_failures: false, failure_rate: 0.25 };
    const imaging = child(report, 'stage_imaging');
    const solverRun = child(imaging, 'solver');
    expect((await runner.store.getRun(child(report, 'stage_import_prep')))?.params).toEqual(stageConf);
    expect((await runner.store.getRun(child(report, 'stage_calibration')))?.params).toEqual(stageConf);
    expect((await runner.store.getRun(imaging))?.params).toEqual({ ...stageConf, nchan: 5 });
    expect((await runner.store.getRun(solverRun))?.params).toEqual({ ...stageConf, nchan: 5 });
    expect(states(solverRun)).toEqual({
      generate_process_list: 'success/1',
      ...mapped('execute_single_solver', 5, 'success/1'),
      collect: 'success/1',
    });
  });

  it('lists the runs it triggered in report.triggeredRuns, each a triggered run whose parent is the trigger task', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'example_workflow' });
    const tree = (r: RunReport): unknown => ({ dagId: r.dagId, state: r.state, triggered: (r.triggeredRuns ?? []).map(tree) });
    expect(tree(report)).toEqual({
      dagId: 'example_workflow',
      state: 'success',
      triggered: [
        { dagId: 'stage_import_prep', state: 'success', triggered: [] },
        { dagId: 'stage_calibration', state: 'success', triggered: [] },
        { dagId: 'stage_imaging', state: 'success', triggered: [{ dagId: 'solver', state: 'success', triggered: [] }] },
      ],
    });
    const imaging = child(report, 'stage_imaging');
    const expectedParents: [RunReport, RunReport, string][] = [
      [child(report, 'stage_import_prep'), report, 'run_import_prep'],
      [child(report, 'stage_calibration'), report, 'run_calibration'],
      [imaging, report, 'run_imaging'],
      [child(imaging, 'solver'), imaging, 'solve_cube'],
    ];
    for (const [run, parent, taskId] of expectedParents) {
      const rec = await runner.store.getRun(run);
      expect(rec?.runType).toBe('triggered');
      expect(rec?.parent).toMatchObject({ dagId: parent.dagId, runId: parent.runId, taskId, mapIndex: -1, tryNumber: 1 });
      // Every triggered run, however deep, shares the top-level run's pipeline context.
      expect(rec?.pipelineScope).toBe(`example_workflow/${report.runId}`);
      // The trigger task's result names the run it triggered and how it ended.
      expect(await xcom(runner, parent, taskId)).toEqual({ runId: run.runId, dagId: run.dagId, state: 'success' });
    }
  });

  it('keeps each stage QA save in the pipeline context of the top-level run, in stage order, each read by the next stage', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'example_workflow' });
    const imaging = child(report, 'stage_imaging');
    const saves = await runner.store.listPipelineSaves(`${report.dagId}/${report.runId}`);

    expect(saves.map((s) => [s.stage, s.dagId, s.taskId, s.runId])).toEqual([
      ['import_prep', 'stage_import_prep', 'qa_import_prep', child(report, 'stage_import_prep').runId],
      ['calibration', 'stage_calibration', 'qa_calibration', child(report, 'stage_calibration').runId],
      ['solver', 'solver', 'collect', child(imaging, 'solver').runId],
      ['imaging', 'stage_imaging', 'qa_imaging', imaging.runId],
    ]);
    const times = saves.map((s) => Date.parse(s.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Triggered runs save into the shared scope, never into one of their own.
    for (const r of [...(report.triggeredRuns ?? []), child(imaging, 'solver')]) expect(await runner.store.listPipelineSaves(`${r.dagId}/${r.runId}`)).toEqual([]);

    const [importPrep, calibration, cube, image] = saves.map((s) => s.data) as [ImportPrepQa, CalibrationQa, CubeQa, ImagingQa];
    for (const qa of [importPrep, calibration, cube, image]) {
      expect(qa.qaScore).toBeGreaterThanOrEqual(0);
      expect(qa.qaScore).toBeLessThanOrEqual(1);
    }
    expect(importPrep).toMatchObject({ ms: '1548939342_sdp_l0.ms', antennas: 64, channels: 4096 });
    // Each stage read the one before it from the pipeline context.
    expect(calibration.importQa).toBe(importPrep.qaScore);
    expect(image.calibrationQa).toBe(calibration.qaScore);
    expect(image.solverQa).toBe(cube.qaScore);
    expect(cube).toMatchObject({ nchan: NCHAN_DEFAULT, convergedChannels: NCHAN_DEFAULT });
    expect(image).toMatchObject({ nchan: NCHAN_DEFAULT, convergedChannels: NCHAN_DEFAULT });

    const summary = await xcom<WorkflowSummary>(runner, report, 'pipeline_summary');
    expect(summary.stages.map((s) => [s.stage, s.qaScore])).toEqual(saves.map((s) => [s.stage, (s.data as { qaScore: number }).qaScore]));
    expect(summary.overallQa).toBe(Math.min(importPrep.qaScore, calibration.qaScore, cube.qaScore, image.qaScore));
  });

  it('is deterministic with default params: two runs save the same QA data', async () => {
    const a = newRunner();
    const b = newRunner();
    const ra = await a.runner.run({ dagId: 'example_workflow' });
    const rb = await b.runner.run({ dagId: 'example_workflow' });
    const savesA = await a.runner.store.listPipelineSaves(`${ra.dagId}/${ra.runId}`);
    const savesB = await b.runner.store.listPipelineSaves(`${rb.dagId}/${rb.runId}`);
    expect(savesA.map((s) => s.data)).toEqual(savesB.map((s) => s.data));
    expect(withoutTime(savesA).map((s) => s.stage)).toEqual(['import_prep', 'calibration', 'solver', 'imaging']);
  });

  it('with simulate_failures and failure_rate 1 ends failed: the first task fails on every try, everything after is upstream_failed', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'example_workflow', conf: { simulate_failures: true, failure_rate: 1 } });

    expect(report.state).toBe('failed');
    // The trigger tasks do not retry (the stage retries its own tasks): one try, failed with the stage.
    expect(exampleWorkflow.task('run_import_prep').retries).toBe(0);
    expect(states(report)).toEqual({
      plan_stages: 'success/1',
      run_import_prep: 'failed/1',
      run_calibration: 'upstream_failed/0',
      run_imaging: 'upstream_failed/0',
      pipeline_summary: 'upstream_failed/0',
    });
    const runImportPrep = await runner.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'run_import_prep', mapIndex: -1 });
    expect(errorText(runImportPrep?.error)).toMatch(/^TriggeredRunFailedError: triggered run .* of 'stage_import_prep' ended failed/);

    // Only the first stage ran; its first task used every try it had.
    expect(report.triggeredRuns?.map((r) => [r.dagId, r.state])).toEqual([['stage_import_prep', 'failed']]);
    const stage = child(report, 'stage_import_prep');
    const retries = stageImportPrep.task('import_ms').retries;
    expect(retries).toBe(2);
    expect(states(stage)).toEqual({
      import_ms: `failed/${retries + 1}`,
      flag_data: 'upstream_failed/0',
      qa_import_prep: 'upstream_failed/0',
    });
    const key = { dagId: stage.dagId, runId: stage.runId, taskId: 'import_ms', mapIndex: -1 };
    const ti = await runner.store.getTaskInstance(key);
    expect(ti).toMatchObject({ state: 'failed', tryNumber: 3, maxTries: 3 });
    expect(errorText(ti?.error)).toBe('Error: simulated failure in import_ms (try 3 of 3, failure_rate 1)');
    for (const tryNumber of [1, 2, 3]) {
      const log = await runner.store.getLog(key, tryNumber);
      // The error, then its traceback: the frame of the example's code that threw, at its TypeScript line.
      expect(log.at(-1)).toMatchObject({ level: 'error', message: expect.stringMatching(new RegExp(`^Error: simulated failure in import_ms \\(try ${tryNumber} of 3, failure_rate 1\\)\\n {4}at .*dags/_pipeline_sim\\.ts:\\d+:\\d+`)) });
    }
    expect(await runner.store.listPipelineSaves(`${report.dagId}/${report.runId}`)).toEqual([]);
  });

  it('refuses conf that breaks a param schema', async () => {
    const { runner } = newRunner();
    await expect(runner.run({ dagId: 'example_workflow', conf: { failure_rate: 1.5 } })).rejects.toThrow(
      "DAG 'example_workflow', field 'params.failure_rate': param 'failure_rate' = 1.5 is invalid: value must be <= 1",
    );
  });
});

describe('stage DAGs on their own', () => {
  it('stage_import_prep saves its QA in its own pipeline context', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'stage_import_prep' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ import_ms: 'success/1', flag_data: 'success/1', qa_import_prep: 'success/1' });
    const saves = await runner.store.listPipelineSaves(`${report.dagId}/${report.runId}`);
    expect(saves.map((s) => s.stage)).toEqual(['import_prep']);
    expect(saves[0]?.data).toEqual(await xcom<ImportPrepQa>(runner, report, 'qa_import_prep'));
  });

  it('stage_calibration without an import QA warns and calibrates anyway', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'stage_calibration' });
    expect(report.state).toBe('success');
    expect(await xcom(runner, report, 'check_import_qa')).toBeNull();
    expect((await xcom<CalibrationQa>(runner, report, 'qa_calibration')).importQa).toBeNull();
    const log = await runner.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'check_import_qa', mapIndex: -1 }, 1);
    expect(log.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'no import_prep QA in the pipeline context (stage run on its own?): calibrating anyway',
    ]);
  });

  it('stage_imaging refuses a red calibration QA without retrying and triggers no solver', async () => {
    const { runner } = newRunner();
    const scope = 'pipeline-with-bad-calibration';
    await runner.store.appendPipelineSave(scope, {
      stage: 'calibration',
      time: '2026-01-01T00:00:00.000Z',
      data: { qaScore: 0.2 },
      dagId: 'stage_calibration',
      runId: 'earlier',
      taskId: 'qa_calibration',
    });
    const report = await runner.run({ dagId: 'stage_imaging', pipelineScope: scope });
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({
      check_calibration_qa: 'failed/1',
      plan_cube: 'upstream_failed/0',
      solve_cube: 'upstream_failed/0',
      qa_imaging: 'upstream_failed/0',
    });
    const ti = await runner.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'check_calibration_qa', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('NonRetriableError: calibration QA 0.2 is below 0.33: not imaging');
    expect(report.triggeredRuns).toBeUndefined();
  });
});

describe('solver', () => {
  it('maps one solver per channel; each runs several major cycles down to its threshold; collect gets them in channel order', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'solver', conf: { nchan: 8 } });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({
      generate_process_list: 'success/1',
      ...mapped('execute_single_solver', 8, 'success/1'),
      collect: 'success/1',
    });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => xcom<SolverResult>(runner, report, 'execute_single_solver', i)));
    expect(results.map((r) => r.channel)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const r of results) {
      expect(r.converged).toBe(true);
      expect(r.majorCycles).toBeGreaterThanOrEqual(2);
      expect(r.minorPerMajor).toHaveLength(r.majorCycles);
      expect(r.minorCycles).toBe(r.minorPerMajor.reduce((a, b) => a + b, 0));
      // Every major cycle lowers the peak residual, and the last is below the threshold.
      for (let i = 1; i < r.residualHistory.length; i++) expect(r.residualHistory[i]).toBeLessThan(r.residualHistory[i - 1]!);
      expect(r.peakResidualJy).toBeLessThan(r.thresholdJy);
    }
    const qa = await xcom<CubeQa>(runner, report, 'collect');
    expect(qa).toMatchObject({
      nchan: 8,
      convergedChannels: 8,
      majorCycles: results.reduce((s, r) => s + r.majorCycles, 0),
      minorCycles: results.reduce((s, r) => s + r.minorCycles, 0),
      spectrumJy: results.map((r) => r.modelFluxJy),
    });
    // Steep-spectrum sources: the cube's flux falls with frequency.
    for (let i = 1; i < qa.spectrumJy.length; i++) expect(qa.spectrumJy[i]).toBeLessThan(qa.spectrumJy[i - 1]!);
  });
});

describe('batch_fanout', () => {
  it('launches 1000 simulated Batch jobs, one per mapped instance, and waits for all of them', async () => {
    const { runner, clock } = newRunner();
    const start = clock.now();
    const report = await runner.run({ dagId: 'batch_fanout' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({
      plan_jobs: 'success/1',
      ...mapped('run_job', 1000, 'success/1'),
      summarise: 'success/1',
    });
    expect(await xcom<FanoutSummary>(runner, report, 'summarise')).toEqual({ jobs: 1000, succeeded: 1000, distinctJobIds: 1000 });
    expect(await xcom(runner, report, 'run_job', 999)).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, childExitCodes: null });
    // The jobs ran side by side: on the fake clock the run took one job's duration (1 s + up to 500 ms
    // of jitter), not 1000 of them.
    const elapsed = clock.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThanOrEqual(1500);
  });

  it('gives each job the command and environment of its input', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'batch_fanout', conf: { n: 3 } });
    expect(states(report)).toEqual({ plan_jobs: 'success/1', ...mapped('run_job', 3, 'success/1'), summarise: 'success/1' });
    const log = await runner.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'run_job', mapIndex: 2 }, 1);
    expect(log.map((l) => l.message)).toContainEqual(
      expect.stringMatching(new RegExp(`^starting try 1 of 2 as child 2 of Batch array job .* \\(3 children\\): python -m reduce_tile --tile 2 --out s3://survey-products/${report.runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tile-2$`)),
    );
    // One array job for the three instances: child i is map index i.
    const results = await Promise.all([0, 1, 2].map((i) => runner.store.getXCom(report, 'run_job', i, 'return_value')));
    const ids = results.map((x) => (x?.value as { jobId: string }).jobId);
    expect(ids.map((id) => id.replace(/^.*:/, ''))).toEqual(['0', '1', '2']);
    expect(new Set(ids.map((id) => id.replace(/:\d+$/, ''))).size).toBe(1);
  });
});

describe('iteration_vs_mapping', () => {
  it('gives the same results with .iterate() in one task instance as with .expand() over one instance per item', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'iteration_vs_mapping' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({
      list_pointings: 'success/1',
      // One instance for all 12 pointings; the flaky pointing was retried inside it.
      estimate_noise_iterated: 'success/1',
      // One instance per pointing; the flaky one (3) needed a second try of its own.
      ...mapped('estimate_noise_mapped', 12, 'success/1'),
      'estimate_noise_mapped[3]': 'success/2',
      compare: 'success/1',
    });
    const iterated = await xcom<NoiseEstimate[]>(runner, report, 'estimate_noise_iterated');
    const mappedResults = await Promise.all(Array.from({ length: 12 }, (_, i) => xcom<NoiseEstimate>(runner, report, 'estimate_noise_mapped', i)));
    expect(iterated).toEqual(mappedResults);
    expect(iterated.map((e) => e.field)).toEqual(Array.from({ length: 12 }, (_, i) => `NGC253-p${String(i + 1).padStart(2, '0')}`));
    for (const e of iterated) {
      expect(e.rmsMicroJy).toBeGreaterThan(1);
      expect(e.rmsMicroJy).toBeLessThan(5);
    }
    expect(await xcom(runner, report, 'compare')).toMatchObject({ pointings: 12, identical: true });

    const iterLog = await runner.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'estimate_noise_iterated', mapIndex: -1 }, 1);
    expect(iterLog.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'item 3 try 1 failed: Error: sky-model lookup for NGC253-p04 timed out (simulated); retrying',
    ]);
    const mappedLog = await runner.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'estimate_noise_mapped', mapIndex: 3 }, 1);
    expect(mappedLog.at(-1)).toMatchObject({ level: 'error', message: expect.stringMatching(/^Error: sky-model lookup for NGC253-p04 timed out \(simulated\)\n {4}at /) });
  });
});

describe('branching_join', () => {
  it('follows the default deconvolver, skips the other paths, joins, and short-circuits archiving', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'branching_join' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({
      choose_deconvolver: 'success/1',
      clean_hogbom: 'skipped/0',
      clean_multiscale: 'success/1',
      clean_mtmfs: 'skipped/0',
      dirty_only: 'skipped/0',
      restore_image: 'success/1',
      should_archive: 'success/1',
      archive_products: 'skipped/0',
    });
    expect(await xcom(runner, report, 'choose_deconvolver')).toEqual(['clean_multiscale']);
    expect(await xcom(runner, report, 'should_archive')).toBe(false);
    expect(await xcom<RestoredImage>(runner, report, 'restore_image')).toEqual({
      image: 'NGC253.multiscale.image.fits',
      deconvolver: 'multiscale',
      peakResidualMicroJy: 18.2,
    });
  });

  it.each([
    ['hogbom', 'clean_hogbom'],
    ['mtmfs', 'clean_mtmfs'],
    ['none', 'dirty_only'],
  ] as const)('with deconvolver %s follows %s only, and archives when asked', async (deconvolver, chosen) => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'branching_join', conf: { deconvolver, archive: true } });
    expect(report.state).toBe('success');
    const paths = ['clean_hogbom', 'clean_multiscale', 'clean_mtmfs', 'dirty_only'];
    expect(states(report)).toEqual({
      choose_deconvolver: 'success/1',
      ...Object.fromEntries(paths.map((p) => [p, p === chosen ? 'success/1' : 'skipped/0'])),
      restore_image: 'success/1',
      should_archive: 'success/1',
      archive_products: 'success/1',
    });
    const image = await xcom<RestoredImage>(runner, report, 'restore_image');
    expect(image.deconvolver).toBe(deconvolver === 'none' ? null : deconvolver);
    expect(await xcom(runner, report, 'archive_products')).toEqual({
      archived: [image.image],
      location: `s3://archive/NGC253/${report.runId}/`,
    });
  });
});

describe('setup_teardown', () => {
  it('creates the workspace, images in it and releases it', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'setup_teardown', runId: 'st1' });
    expect(report.state).toBe('success');
    expect(states(report)).toEqual({ create_workspace: 'success/1', stage_visibilities: 'success/1', image_channels: 'success/1', release_workspace: 'success/1' });
    expect(await xcom(runner, report, 'release_workspace')).toEqual({ released: '/scratch/st1' });
  });

  it('imaging fails: the workspace is released all the same and the run fails', async () => {
    const { runner } = newRunner();
    const report = await runner.run({ dagId: 'setup_teardown', runId: 'st2', conf: { fail_imaging: true } });
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ create_workspace: 'success/1', stage_visibilities: 'success/1', image_channels: 'failed/1', release_workspace: 'success/1' });
    expect(errorText((await runner.store.getTaskInstance({ dagId: 'setup_teardown', runId: 'st2', taskId: 'image_channels', mapIndex: -1 }))?.error)).toBe('Error: imaging /scratch/st2/NGC253.ms failed: out of scratch space');
  });
});

describe('nightly_calibrator_check', () => {
  it('is scheduled at 06:00 Perth time: 22:00 UTC the day before', () => {
    const spec = nightlyCalibratorCheck.spec;
    expect(spec.schedule).toStrictEqual({ kind: 'cron', expression: '0 6 * * *', timezone: 'Australia/Perth' });
    expect(nextScheduleTime(spec.schedule!, new Date('2026-03-01T00:00:00Z'), new Date(spec.startDate!))?.toISOString()).toBe('2026-03-01T22:00:00.000Z');
  });

  it("a run checks the night of its logical date: all within 5% on 2 March; 3C138 7% high on the 15th", async () => {
    const { runner } = newRunner();
    const good = await runner.run({ dagId: 'nightly_calibrator_check', logicalDate: '2026-03-01T22:00:00Z', runType: 'scheduled' });
    expect(good.state).toBe('success');
    expect(states(good)).toEqual({ list_calibrators: 'success/1', ...mapped('check_flux', 3, 'success/1'), nightly_report: 'success/1' });
    expect(await xcom<NightlyReport>(runner, good, 'nightly_report')).toEqual({ night: '2026-03-02', checked: 3, failed: [] });
    const drift = await runner.run({ dagId: 'nightly_calibrator_check', logicalDate: '2026-03-14T22:00:00Z', runType: 'scheduled' });
    expect(await xcom<NightlyReport>(runner, drift, 'nightly_report')).toEqual({ night: '2026-03-15', checked: 3, failed: ['3C138'] });
    expect(await xcom<FluxCheck>(runner, drift, 'check_flux', 1)).toEqual({ source: '3C138', night: '2026-03-15', offsetPercent: 7, ok: false });
  });
});

describe('observation_alerts', () => {
  const api = new NotifyApi();
  const slack: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      slack.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.end('ok');
    });
  });
  const saved = { ...process.env };
  beforeAll(async () => {
    process.env.AWS_ENDPOINT_URL_SNS = await api.listen();
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.env.SLACK_WEBHOOK_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0/B0/x`;
  });
  afterAll(async () => {
    process.env = saved;
    await api.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('in time and healthy: no message at all', async () => {
    const runner = new LocalRunner({ dags: [observationAlerts], clock: new FakeClock(Date.UTC(2026, 0, 1)) });
    const report = await runner.run({ dagId: 'observation_alerts', runId: 'on_time' });
    expect(states(report)).toEqual({ wait_for_observation: 'success/1', check_quality: 'success/1' });
    await runner.idle();
    expect(api.published).toEqual([]);
    expect(slack).toEqual([]);
  });

  it('late and failing: the deadline alert once, the task failure to Slack, the run failure to the topic', async () => {
    const runner = new LocalRunner({ dags: [observationAlerts], clock: new FakeClock(Date.UTC(2026, 0, 1)) });
    const report = await runner.run({ dagId: 'observation_alerts', runId: 'late', conf: { arrives_after_polls: 15, max_rfi_fraction: 0.01 } });
    expect(states(report)).toEqual({ wait_for_observation: 'success/1', check_quality: 'failed/1' });
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:airless-alerts';
    expect(api.published).toEqual([
      { topicArn, subject: '[airless] observation_alerts is late', message: 'observation_alerts run late has not finished by 2026-01-01T02:00:00.000Z (dagrun_queued_at + 2h)' },
      { topicArn, subject: '[airless] observation_alerts failed', message: 'observation_alerts run late (logical date 2026-01-01T00:00:00.000Z) failed' },
    ]);
    expect(slack).toEqual([{ text: ':red_circle: observation_alerts late: check_quality failed: Error: obs-late: 5% of the data is flagged for RFI' }]);
  });
});
