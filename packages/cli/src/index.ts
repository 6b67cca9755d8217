export { type ConvertSummary, runConvert } from "./commands/convert-command.ts";
export * from "./file-chunk-sink.ts";
