import { performance } from 'node:perf_hooks';
import type { Clock, Millis } from '../env/index.js';

/** Monotonic wall time in milliseconds (fractional), from `performance.now()`: never jumps back with NTP. */
export class RealClock implements Clock {
  now(): Millis {
    return performance.now();
  }
}
