/**
 * Where things live in the uploads bucket; shared by the stack, the handlers, the consumer and the local runtime.
 *
 *   uploads/<file>                      the customer's workbook, as uploaded (kept, versioned)
 *   processed/<uploadId>/chunks.jsonl   the chunks, one JSON line each (rows stay here: claim check)
 *   processed/<uploadId>/items.jsonl    one chunk pointer per line: what the Distributed Map reads
 *   processed/<uploadId>/manifest.json  the conversion's totals, header and warnings
 *   processed/<uploadId>/<mapRunId>/    the Map Run's ResultWriter output (manifest.json, result files)
 *   processed/<uploadId>/summary.json   the completion summary
 *   processed/<uploadId>/failure.json   the failure record of the upload's last failed execution
 *   processed/<uploadId>/rejected-rows.csv, rejected-rows.xlsx
 *                                       the rejected rows with their original values and reasons (the report)
 */
export const UPLOADS_PREFIX = "uploads/";
export const PROCESSED_PREFIX = "processed/";
export const CHUNKS_OBJECT = "chunks.jsonl";
export const ITEMS_OBJECT = "items.jsonl";
export const MANIFEST_OBJECT = "manifest.json";
export const SUMMARY_OBJECT = "summary.json";
export const FAILURE_OBJECT = "failure.json";
/** The rejected-rows report, written by the summary (or, for the rows before a failure, by NotifyFailure). */
export const REJECTED_ROWS_CSV = "rejected-rows.csv";
export const REJECTED_ROWS_XLSX = "rejected-rows.xlsx";

/** `processed/<uploadId>/`: the folder of everything sluice writes for one upload. */
export function processedPrefixOf(uploadId: string, processedPrefix: string = PROCESSED_PREFIX): string {
  return `${processedPrefix}${uploadId}/`;
}
