import type { SensorTaskSpec } from '../../model/spec.ts';
import { buildInvokeLifecycle } from '../lambda-lifecycle.ts';
import type { KindCompiler } from './kind-compiler.ts';

/** `sensor()`: the try loop on the sensor-poke function, each poke that is not done a `wait` reply. */
export const sensorCompiler: KindCompiler<SensorTaskSpec> = {
  lifecycle: () => 'sensor',
  standardOnly: () => 'a sensor waits between pokes, up to its timeout',
  build: (graph, spec, o) => buildInvokeLifecycle(graph, spec, { functionName: o.sensorPokeArn, mode: 'poke' }, o.schedulerArn),
};
