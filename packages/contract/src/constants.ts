/**
 * The contract without its schemas: versions and ids, chunk bounds, the error and warning codes, the bucket's
 * key layout and the upload form's keys. Code that never validates a message (the converter, the CLI's
 * `convert`) imports this entry and so never loads zod, which costs a process about 15 MB and its start-up time.
 * Everything here is also exported from the package's main entry.
 */
export * from "./bucket-layout.ts";
export * from "./chunk-bounds.ts";
export * from "./console-links.ts";
export * from "./contract-version.ts";
export * from "./error-codes.ts";
export * from "./failure-cause.ts";
export * from "./upload-form.ts";
export * from "./warning-codes.ts";
