export * from "./byte-source.ts";
export * from "./chunk-writer.ts";
export * from "./convert-workbook.ts";
export * from "./errors.ts";
export * from "./header.ts";
export * from "./limits.ts";
export * from "./upload-id.ts";
export * from "./workbook-reader.ts";
