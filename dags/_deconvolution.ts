/**
 * Image-plane deconvolution of one channel of a cube, as the `solver` DAG runs it per channel: a small
 * Clark-style CLEAN with major and minor cycles, simulated in-process (a 32x32 image, milliseconds).
 * Not a DAG file: the leading '_' tells the DAG loader to skip it.
 *
 * - Minor cycles find the residual's peak and subtract a fraction (`gain`) of the beam around it, using
 *   only a small patch of the point spread function: fast, but approximate.
 * - Each major cycle recomputes the residual exactly (in a real imager: predict model visibilities,
 *   subtract, re-grid and FFT) and sets the threshold for the next minor cycles from the PSF's sidelobe
 *   level. The loop ends when the peak residual is below the threshold, or after `maxMajorCycles`.
 */
import { gaussian, round, seededRandom } from './_pipeline_sim.ts';

export interface ChannelSpec {
  channel: number;
  freqMHz: number;
}

export interface SolverOptions {
  /** Image side in pixels. Default 32. */
  size?: number;
  /** Loop gain: fraction of the peak subtracted per minor cycle. Default 0.15. */
  gain?: number;
  /** Image noise, Jy/beam. Default 0.001. */
  noiseJy?: number;
  /** Stop when the peak residual is below this many times the noise. Default 4. */
  thresholdSigma?: number;
  /** Default 8. */
  maxMajorCycles?: number;
  /** Minor cycles allowed per major cycle. Default 200. */
  maxMinorPerMajor?: number;
  /** Minor cycles stop at `cycleFactor * maxSidelobe * peak residual` (CASA's cyclefactor). Default 2. */
  cycleFactor?: number;
  /** Half-width of the PSF patch the minor cycles subtract. Default 3 pixels. */
  patch?: number;
}

export interface SolverResult {
  channel: number;
  freqMHz: number;
  majorCycles: number;
  /** Minor cycles (CLEAN components) in all major cycles together. */
  minorCycles: number;
  /** Minor cycles done in each major cycle. */
  minorPerMajor: number[];
  /** Peak |residual| after each major cycle, Jy/beam. */
  residualHistory: number[];
  peakResidualJy: number;
  thresholdJy: number;
  /** Total flux in CLEAN components, Jy. */
  modelFluxJy: number;
  converged: boolean;
}

/** A synthetic point spread function: a Gaussian main lobe with a decaying ring of sidelobes, peak 1. */
function psfAt(dx: number, dy: number): number {
  const r = Math.hypot(dx, dy);
  const main = Math.exp(-(r * r) / (2 * 1.2 * 1.2));
  const side = 0.12 * Math.cos(1.9 * r) * Math.exp(-r / 5);
  return (main + side) / 1.12;
}

/** PSF for every offset between two pixels of a size x size image, and its largest sidelobe. */
function psfTable(size: number): { at: (dx: number, dy: number) => number; maxSidelobe: number } {
  const w = 2 * size - 1;
  const t = new Float64Array(w * w);
  let maxSidelobe = 0;
  for (let dy = -(size - 1); dy < size; dy++) {
    for (let dx = -(size - 1); dx < size; dx++) {
      const v = psfAt(dx, dy);
      t[(dy + size - 1) * w + dx + size - 1] = v;
      if (Math.hypot(dx, dy) > 2.5) maxSidelobe = Math.max(maxSidelobe, Math.abs(v));
    }
  }
  return { at: (dx, dy) => t[(dy + size - 1) * w + dx + size - 1]!, maxSidelobe };
}

/** The field: the same few sources in every channel, their flux following a spectral index. */
const SOURCES = (() => {
  const rnd = seededRandom(20260101);
  return Array.from({ length: 4 }, () => ({
    x: 4 + Math.floor(rnd() * 24),
    y: 4 + Math.floor(rnd() * 24),
    fluxJy: 0.05 + rnd() * 0.45,
    spectralIndex: -0.4 - rnd() * 0.6,
  }));
})();

const REF_FREQ_MHZ = 1284;

/** Deconvolve one channel. Deterministic: the noise is seeded by the channel number. */
export function solveChannel(spec: ChannelSpec, options: SolverOptions = {}): SolverResult {
  const size = options.size ?? 32;
  const gain = options.gain ?? 0.15;
  const noiseJy = options.noiseJy ?? 0.001;
  const thresholdJy = noiseJy * (options.thresholdSigma ?? 4);
  const maxMajor = options.maxMajorCycles ?? 8;
  const maxMinor = options.maxMinorPerMajor ?? 200;
  const cycleFactor = options.cycleFactor ?? 2;
  const patch = options.patch ?? 3;
  const psf = psfTable(size);
  const n = size * size;

  // The dirty image: sky convolved with the PSF, plus noise.
  const dirty = new Float64Array(n);
  const rnd = seededRandom(1000 + spec.channel);
  for (let p = 0; p < n; p++) dirty[p] = gaussian(rnd, noiseJy);
  for (const s of SOURCES) {
    const flux = s.fluxJy * (spec.freqMHz / REF_FREQ_MHZ) ** s.spectralIndex;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) dirty[y * size + x]! += flux * psf.at(x - s.x, y - s.y);
  }

  const model = new Float64Array(n);
  const residual = Float64Array.from(dirty);
  const peakOf = (img: Float64Array): { p: number; v: number } => {
    let p = 0;
    for (let i = 1; i < img.length; i++) if (Math.abs(img[i]!) > Math.abs(img[p]!)) p = i;
    return { p, v: img[p]! };
  };

  const minorPerMajor: number[] = [];
  const residualHistory: number[] = [];
  let peak = peakOf(residual);
  let major = 0;
  while (major < maxMajor && Math.abs(peak.v) >= thresholdJy) {
    major++;
    // Minor cycles: subtract the beam patch around each peak until the cycle threshold.
    const cycleThreshold = Math.max(thresholdJy, cycleFactor * psf.maxSidelobe * Math.abs(peak.v));
    let minor = 0;
    while (minor < maxMinor) {
      const pk = peakOf(residual);
      if (Math.abs(pk.v) < cycleThreshold) break;
      const comp = gain * pk.v;
      model[pk.p]! += comp;
      const px = pk.p % size;
      const py = (pk.p - px) / size;
      for (let y = Math.max(0, py - patch); y <= Math.min(size - 1, py + patch); y++) {
        for (let x = Math.max(0, px - patch); x <= Math.min(size - 1, px + patch); x++) residual[y * size + x]! -= comp * psf.at(x - px, y - py);
      }
      minor++;
    }
    minorPerMajor.push(minor);
    // Major cycle: the exact residual, dirty minus model convolved with the whole PSF.
    residual.set(dirty);
    for (let m = 0; m < n; m++) {
      const c = model[m]!;
      if (c === 0) continue;
      const mx = m % size;
      const my = (m - mx) / size;
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) residual[y * size + x]! -= c * psf.at(x - mx, y - my);
    }
    peak = peakOf(residual);
    residualHistory.push(round(Math.abs(peak.v), 6));
  }

  return {
    channel: spec.channel,
    freqMHz: spec.freqMHz,
    majorCycles: major,
    minorCycles: minorPerMajor.reduce((a, b) => a + b, 0),
    minorPerMajor,
    residualHistory,
    peakResidualJy: round(Math.abs(peak.v), 6),
    thresholdJy: round(thresholdJy, 6),
    modelFluxJy: round(model.reduce((a, b) => a + b, 0), 6),
    converged: Math.abs(peak.v) < thresholdJy,
  };
}
