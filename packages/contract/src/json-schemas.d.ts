/**
 * JSON Schemas (draft 2020-12) of what crosses the wire between sluice and an admin server, for an admin server
 * written in any language (docs/protocol.md): the queue message, the chunk its pointer names, and the two answers.
 * The same schemas are committed under packages/contract/schemas/ (a test keeps them equal to these).
 */
export declare function jsonSchemas(): Record<
  "chunk-message" | "chunk" | "task-result" | "task-failure-cause" | "failure-record",
  unknown
>;
