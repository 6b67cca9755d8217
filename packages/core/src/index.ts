export * from "./byte-source.ts";
export * from "./errors.ts";
export * from "./limits.ts";
export * from "./workbook-reader.ts";
