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
 */
export declare const UPLOADS_PREFIX = "uploads/";
export declare const PROCESSED_PREFIX = "processed/";
export declare const CHUNKS_OBJECT = "chunks.jsonl";
export declare const ITEMS_OBJECT = "items.jsonl";
export declare const MANIFEST_OBJECT = "manifest.json";
export declare const SUMMARY_OBJECT = "summary.json";
export declare const FAILURE_OBJECT = "failure.json";
/** `processed/<uploadId>/`: the folder of everything sluice writes for one upload. */
export declare function processedPrefixOf(uploadId: string, processedPrefix?: string): string;
