import { nextPokeAt, pokeTimedOut } from '../../core/pokes.ts';
import { SensorTimeoutError } from '../../errors.ts';
import type { SensorTaskSpec } from '../../model/spec.ts';
import { iso } from '../../model/time.ts';
import { callCode, type KindRunner } from './kind-runner.ts';

/**
 * `sensor()`: one poke per try step. Done: its value (`xcomValue`) is the result. Not yet: the try defers
 * until the next poke (the interval, doubling with exponentialBackoff, never past the timeout), which the
 * host brings back as the same try; past the timeout it fails with a SensorTimeoutError, or skips with
 * softFail.
 */
export const sensorRunner: KindRunner<SensorTaskSpec> = {
  runsCode: true,
  async runTry({ spec, ti }, tools) {
    const s = spec.sensor;
    const now = tools.now();
    const first = ti.firstPokeAt ? Date.parse(ti.firstPokeAt) : now;
    const pokeCount = ti.pokeCount + 1;
    await tools.io.updateTaskInstance(ti, { states: ['running'], tryNumber: ti.tryNumber }, { firstPokeAt: iso(first), pokeCount });
    const r = await callCode(tools);
    const done = r === true || (typeof r === 'object' && r !== null && (r as { isDone?: unknown }).isDone === true);
    if (done) {
      const value = typeof r === 'object' && r !== null ? ((r as { xcomValue?: unknown }).xcomValue ?? null) : null;
      tools.write('info', `poke ${pokeCount}: condition met`);
      await tools.storeResult(value);
      return { kind: 'success' };
    }
    const elapsed = tools.now() - first;
    if (pokeTimedOut(s, first, tools.now())) {
      const msg = `sensor timed out after ${elapsed} ms (timeout ${s.timeoutMs} ms, ${pokeCount} pokes)`;
      if (s.softFail) return { kind: 'skip', reason: msg };
      throw new SensorTimeoutError(msg);
    }
    const until = nextPokeAt(s, first, pokeCount, tools.now());
    tools.write('info', `poke ${pokeCount}: not yet; next poke in ${until - tools.now()} ms`);
    return { kind: 'defer', until };
  },
};
