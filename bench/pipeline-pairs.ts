/**
 * The end-to-end target's ratio, taken pair by pair: `sluice convert` of the workbook alone, then the pipeline,
 * back to back, so that the machine's drift (a third within the hour here) touches both figures of a ratio alike.
 */

/** What a pair needs of a pipeline run. */
export interface PipelineRun {
  rows: number;
  seconds: number;
  status: string;
}

export interface PipelinePair<P extends PipelineRun = PipelineRun> {
  /** Conversion alone, rows/s (null: it failed, or was not measured). */
  alone: number | null;
  pipeline: P;
  /** End-to-end rows/s over `alone` (null without both). */
  ratio: number | null;
}

export function pairRatio(alone: number | null, pipeline: PipelineRun): number | null {
  if (alone === null || pipeline.status !== "SUCCEEDED" || pipeline.seconds <= 0) return null;
  return pipeline.rows / pipeline.seconds / alone;
}

/**
 * The pair a size is reported by: the one with the median ratio (the lower middle one of an even count, so the
 * verdict leans to MISS), so that the row's end-to-end and conversion figures are the ratio's own. A pair without
 * a ratio (a failed run) only when no pair has one.
 */
export function medianPair<P extends PipelineRun>(pairs: PipelinePair<P>[]): PipelinePair<P> {
  if (pairs.length === 0) throw new Error("no pairs");
  const rated = pairs.filter((p) => p.ratio !== null).sort((a, b) => a.ratio! - b.ratio!);
  if (rated.length === 0) return pairs[0]!;
  return rated[Math.floor((rated.length - 1) / 2)]!;
}
