export type { Emulator, LocalClientConfig } from "./emulator.ts";
export type { Execution } from "./execution.ts";
export {
  LocalRuntime,
  type LocalRuntimeOptions,
  type RuntimeEvent,
  type RuntimeUsage,
} from "./local-runtime.ts";
export type { ExecutionRecord, ExecutionStatus, HistoryEvent, Usage } from "./local-workflow.ts";
