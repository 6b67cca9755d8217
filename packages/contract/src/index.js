export * from "./bucket-layout.js";
export * from "./contract-version.js";
export * from "./error-codes.js";
export * from "./execution-input.js";
export * from "./json-schemas.js";
export * from "./messages.js";
export * from "./summary.js";
