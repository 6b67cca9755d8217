import { z } from "zod";
import {
  ChunkEnvelopeSchema,
  ChunkSchema,
  FailureRecordSchema,
  TaskFailureCauseSchema,
  TaskResultSchema,
} from "./messages.js";
/**
 * JSON Schemas (draft 2020-12) of what crosses the wire between sluice and an admin server, for an admin server
 * written in any language (docs/protocol.md): the queue message, the chunk its pointer names, and the two answers.
 * The same schemas are committed under packages/contract/schemas/ (a test keeps them equal to these).
 */
export function jsonSchemas() {
  const of = (schema) => z.toJSONSchema(schema, { io: "input" });
  return {
    "chunk-message": of(ChunkEnvelopeSchema),
    chunk: of(ChunkSchema),
    "task-result": of(TaskResultSchema),
    "task-failure-cause": of(TaskFailureCauseSchema),
    "failure-record": of(FailureRecordSchema),
  };
}
