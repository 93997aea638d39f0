/**
 * The assets the asset example DAGs share (asset_producer, asset_consumer, asset_or_time). An asset is
 * declared once and imported wherever it is used: the same uri declared twice with different options is
 * a DagDefinitionError. Not a DAG file: the leading '_' tells the DAG loader to skip it.
 */
import { asset } from 'airless';

/** Calibrated visibilities of the night's observation. */
export const calibrated = asset('s3://airless-example/visibilities/calibrated.ms', { name: 'calibrated visibilities', group: 'visibilities' });
/** The RFI flags found in them. */
export const rfiFlags = asset('s3://airless-example/flags/rfi.json', { name: 'RFI flags', group: 'flags' });
/** The sky model the imager starts from. */
export const skyModel = asset('s3://airless-example/models/sky.json', { name: 'sky model', group: 'models' });
