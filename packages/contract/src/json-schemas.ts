import { z } from "zod";
import {
  ChunkEnvelopeSchema,
  ChunkSchema,
  FailureRecordSchema,
  TaskFailureCauseSchema,
  TaskResultSchema,
} from "./messages.ts";

/**
 * JSON Schemas (draft 2020-12) of what crosses the wire between sluice and an admin server, for an admin server
 * written in any language (docs/protocol.md): the queue message, the chunk its pointer names, and the two answers.
 * The same schemas are committed under packages/contract/schemas/ (a test keeps them equal to these).
 *
 * Two of the chunk's rules are zod refinements, which zod cannot translate; they are written here as JSON Schema:
 * its `columns` are distinct (`uniqueItems`) and none is named "__proto__". The third, each row one value longer
 * than `columns`, relates two fields, which JSON Schema cannot express: a reader checks it itself
 * (docs/protocol.md).
 */
export function jsonSchemas(): Record<
  "chunk-message" | "chunk" | "task-result" | "task-failure-cause" | "failure-record",
  unknown
> {
  const columns = ChunkSchema.shape.columns;
  const of = (schema: z.ZodType) =>
    z.toJSONSchema(schema, {
      io: "input",
      override: ({ zodSchema, jsonSchema }) => {
        if (zodSchema !== columns) return;
        jsonSchema.uniqueItems = true;
        jsonSchema.items = { type: "string", not: { const: "__proto__" } };
      },
    });
  return {
    "chunk-message": of(ChunkEnvelopeSchema),
    chunk: of(ChunkSchema),
    "task-result": of(TaskResultSchema),
    "task-failure-cause": of(TaskFailureCauseSchema),
    "failure-record": of(FailureRecordSchema),
  };
}
