export * from "./bucket-layout.ts";
export * from "./chunk-bounds.ts";
export * from "./contract-version.ts";
export * from "./error-codes.ts";
export * from "./execution-input.ts";
export * from "./json-schemas.ts";
export * from "./messages.ts";
export * from "./summary.ts";
