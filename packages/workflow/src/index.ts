export * from "./stage-config.ts";
export * from "./workflow-asl.ts";
export * from "./workflow-shape.ts";
