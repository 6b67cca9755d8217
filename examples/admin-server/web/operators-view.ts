/**
 * What the operators' view shows of each upload, as pure functions: which ones can be redriven, how a failure
 * reads in one line, and the order of the list.
 */
import type { UploadListItem } from "@sluice/admin";

/** Step Functions redrives FAILED, TIMED_OUT and ABORTED executions (within 14 days of their start). */
const REDRIVABLE = new Set(["FAILED", "TIMED_OUT", "ABORTED"]);

export function canRedrive(item: Pick<UploadListItem, "executionStatus">): boolean {
  return REDRIVABLE.has(item.executionStatus);
}

/** "IMPORT_REFUSED in chunk 3: the admin server refused…", or "" for an upload that did not fail. */
export function describeFailure(item: Pick<UploadListItem, "failure">): string {
  const failure = item.failure;
  if (!failure) return "";
  const where = failure.chunkIndex === null ? "" : ` in chunk ${failure.chunkIndex}`;
  return `${failure.code}${where}: ${failure.message}`;
}

/** Newest first; running ones before finished ones started at the same moment. */
export function sortUploads<T extends Pick<UploadListItem, "startedAt" | "stoppedAt">>(items: T[]): T[] {
  return [...items].sort(
    (a, b) =>
      b.startedAt.localeCompare(a.startedAt) || Number(a.stoppedAt !== null) - Number(b.stoppedAt !== null),
  );
}

export const STATUS_FILTERS = [
  "",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
  "PENDING_REDRIVE",
] as const;
