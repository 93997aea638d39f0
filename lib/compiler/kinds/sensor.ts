import type { SensorTaskSpec } from '../../model/spec.ts';
import type { KindCompiler } from './kind-compiler.ts';

/** `sensor()`: the poke loop on the sensor-poke function, each poke that is not done a `wait` reply. */
export const sensorCompiler: KindCompiler<SensorTaskSpec> = {
  lifecycle: () => 'sensor',
};
