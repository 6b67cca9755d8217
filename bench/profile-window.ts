/** A span of time in a V8 CPU profile's clock: monotonic microseconds, as `process.hrtime.bigint() / 1000n`. */
export interface TimeWindow {
  from: number;
  to: number;
}

/** What `within` needs of a CPU profile (`--cpu-prof`'s JSON). */
export interface SampledProfile {
  startTime: number;
  samples: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas: number[];
}

/**
 * The profile with only the samples taken within `window`, both ends included (a sample's time: startTime plus
 * the deltas up to it). The nodes are kept as they are: a summary counts a node by its samples.
 */
export function within<P extends SampledProfile>(profile: P, window: TimeWindow): P {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let time = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    if (time >= window.from && time <= window.to) {
      samples.push(id);
      timeDeltas.push(delta);
    }
  });
  return { ...profile, samples, timeDeltas };
}
