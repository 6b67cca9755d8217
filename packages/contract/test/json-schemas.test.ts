import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import {
  CHUNKS_OBJECT,
  type Chunk,
  type ChunkEnvelope,
  ChunkEnvelopeSchema,
  ChunkSchema,
  CONTRACT_VERSION,
  chunkIdFor,
  type FailureRecord,
  FailureRecordSchema,
  jsonSchemas,
  packRejectedRows,
  processedPrefixOf,
  REJECTED_SAMPLE_LIMIT,
  type TaskFailureCause,
  TaskFailureCauseSchema,
  type TaskResult,
  TaskResultSchema,
} from "@sluice/contract";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import type { z } from "zod";

/**
 * packages/contract/schemas/*.json are jsonSchemas() as committed (`npm run schemas:write`), and they accept and
 * refuse what the zod schemas accept and refuse: checked with ajv (draft 2020-12), the validator already in the
 * repository's node_modules, as an admin server in another language would check with its own.
 */

const directory = new URL("../schemas/", import.meta.url);
const generated = jsonSchemas() as Record<string, object>;
const committed = (name: string): object =>
  JSON.parse(readFileSync(new URL(`${name}.json`, directory), "utf8")) as object;

// strictTuples off: a chunk's row, `[row, ...values]`, is a tuple with rest items on purpose (ajv's strict mode
// takes any tuple that is not of fixed length for a mistake).
const ajv = new Ajv2020({ strict: true, strictTuples: false, allowUnionTypes: true, allErrors: true });
const validators = Object.fromEntries(
  Object.keys(generated).map((name) => [name, ajv.compile(committed(name))]),
);

function validate(name: string, value: unknown): string[] {
  const check = validators[name]!;
  return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
}

/** A chunk as the converter writes it, and its pointer: the bytes' real length and SHA-256. */
function realChunk(): { chunk: Chunk; line: string; message: ChunkEnvelope } {
  const uploadId = "orders-april-0a1b2c3d4e5f";
  const index = 3;
  const chunk: Chunk = {
    v: CONTRACT_VERSION,
    uploadId,
    index,
    chunkId: chunkIdFor(uploadId, index),
    firstRow: 32,
    lastRow: 34,
    columns: ["order_id", "customer", "quantity", "paid"],
    rows: [
      [32, "ORD-31", "Müller GmbH", 2, true],
      [33, "ORD-32", "주식회사 한빛", null, false],
      [34, "ORD-33", "Acme", 1.5, false],
    ],
    warnings: [{ row: 33, column: "quantity", code: "CELL_ERROR", message: "#DIV/0! became null" }],
  };
  const line = JSON.stringify(ChunkSchema.parse(chunk));
  const bytes = Buffer.from(line, "utf8");
  const message: ChunkEnvelope = {
    v: CONTRACT_VERSION,
    kind: "chunk",
    taskToken: "AQCEAAAAKgAAAAMAAAAAAAAAAS3x8hM0gWx0nmlHvnyc6BMn",
    uploadId,
    source: {
      bucket: "sluice-prod-uploads",
      key: "uploads/orders-april.xlsx",
      versionId: "3HL4kqtJlcpXroDTDmJ",
    },
    totals: { totalRows: 1000, totalChunks: 34 },
    chunk: {
      index,
      chunkId: chunk.chunkId,
      firstRow: chunk.firstRow,
      lastRow: chunk.lastRow,
      rows: chunk.rows.length,
      bucket: "sluice-prod-uploads",
      key: `${processedPrefixOf(uploadId)}${CHUNKS_OBJECT}`,
      offset: 98_304,
      length: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("base64"),
    },
  };
  return { chunk, line, message: ChunkEnvelopeSchema.parse(message) };
}

const { chunk, message } = realChunk();
const taskResult: TaskResult = {
  v: CONTRACT_VERSION,
  uploadId: message.uploadId,
  chunkIndex: message.chunk.index,
  accepted: 1,
  rejected: packRejectedRows([
    { row: 33, code: "QUANTITY_MISSING", message: "quantity is empty" },
    { row: 34, code: "QUANTITY_INVALID", message: "quantity must be a whole number" },
  ]),
  durationMs: 12.5,
};
const cause: TaskFailureCause = {
  message: "Chunk 3 (rows 32 to 34) is refused",
  code: "CHUNK_REJECTED",
  chunkIndex: 3,
  firstRow: 32,
  lastRow: 34,
  rows: 3,
  receiveCount: 2,
};
const failureRecord: FailureRecord = {
  v: CONTRACT_VERSION,
  kind: "upload-failure",
  uploadId: message.uploadId,
  executionArn: `arn:aws:states:eu-west-1:123456789012:execution:sluice-upload:${message.uploadId}`,
  status: "FAILED",
  redriveCount: 0,
  source: message.source,
  processed: { bucket: "sluice-prod-uploads", prefix: processedPrefixOf(message.uploadId) },
  error: { code: "CHUNK_REJECTED", cause: cause.message },
  failedChunk: { index: 3, firstRow: 32, lastRow: 34, rows: 3 },
  chunks: { total: 34, succeeded: 3, failed: 1, pending: 30 },
  progress: { accepted: 5, rejected: 1 },
  rejectedSample: [{ chunkIndex: 1, row: 12, code: "UNKNOWN_CUSTOMER", message: "no customer C-9" }],
  failedAt: "2026-04-02T10:00:00.000Z",
};

/** One valid value of each schema, and the zod schema it belongs to. */
const samples: Record<string, { schema: z.ZodType; value: unknown }> = {
  "chunk-message": { schema: ChunkEnvelopeSchema, value: message },
  chunk: { schema: ChunkSchema, value: chunk },
  "task-result": { schema: TaskResultSchema, value: taskResult },
  "task-failure-cause": { schema: TaskFailureCauseSchema, value: cause },
  "failure-record": { schema: FailureRecordSchema, value: failureRecord },
};

/** Sets `path` in a deep copy of `value` (undefined deletes it). */
function changed(value: unknown, path: (string | number)[], to: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (to === undefined) delete target[last];
  else target[last] = to;
  return copy;
}

describe("packages/contract/schemas", () => {
  it("are jsonSchemas(), as committed (run `npm run schemas:write` after changing a schema)", () => {
    const files = readdirSync(directory)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files).toEqual(
      Object.keys(generated)
        .map((name) => `${name}.json`)
        .sort(),
    );
    for (const name of Object.keys(generated)) {
      expect(committed(name), `${name}.json differs from jsonSchemas()["${name}"]`).toEqual(generated[name]);
    }
  });

  it("are draft 2020-12 schemas ajv compiles in strict mode", () => {
    for (const name of Object.keys(generated)) {
      expect(committed(name)).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema" });
      expect(typeof validators[name]).toBe("function");
    }
  });

  it("accept a real message, chunk, task result, failure cause and failure record, as zod does", () => {
    expect(Object.keys(samples).sort()).toEqual(Object.keys(generated).sort());
    for (const [name, { schema, value }] of Object.entries(samples)) {
      expect(schema.safeParse(value).success, name).toBe(true);
      expect(validate(name, value), name).toEqual([]);
      // What crosses the wire is JSON: the same after a round trip.
      expect(validate(name, JSON.parse(JSON.stringify(value))), name).toEqual([]);
    }
  });

  it("accept fields they do not know (forward compatibility within version 3)", () => {
    const extended = { ...message, traceId: "abc", chunk: { ...message.chunk, compression: "none" } };
    expect(validate("chunk-message", extended)).toEqual([]);
    expect(ChunkEnvelopeSchema.safeParse(extended).success).toBe(true);
    const chunkExtended = { ...chunk, sheet: "Orders" };
    expect(validate("chunk", chunkExtended)).toEqual([]);
    expect(ChunkSchema.safeParse(chunkExtended).success).toBe(true);
  });

  it("refuse a chunk of contract version 2 (rows keyed by name)", () => {
    const v2 = {
      ...chunk,
      v: 2,
      rows: [{ row: 32, data: { order_id: "ORD-31", customer: "Müller GmbH", quantity: 2, paid: true } }],
    };
    const { columns: _columns, warnings: _warnings, ...keyed } = v2;
    for (const value of [v2, { ...keyed, v: 3 }]) {
      expect(ChunkSchema.safeParse(value).success).toBe(false);
      expect(validate("chunk", value).length).toBeGreaterThan(0);
    }
  });

  it("refuse what zod refuses", () => {
    const refused: [string, (string | number)[], unknown][] = [
      ["chunk-message", ["v"], 2],
      ["chunk-message", ["kind"], "manifest"],
      ["chunk-message", ["taskToken"], ""],
      ["chunk-message", ["taskToken"], undefined],
      ["chunk-message", ["chunk", "sha256"], "not-a-digest"],
      [
        "chunk-message",
        ["chunk", "sha256"],
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      ],
      ["chunk-message", ["chunk", "length"], 0],
      ["chunk-message", ["chunk", "offset"], -1],
      ["chunk-message", ["chunk", "rows"], 1.5],
      ["chunk-message", ["chunk", "key"], undefined],
      ["chunk-message", ["totals"], undefined],
      ["chunk", ["v"], 2],
      ["chunk", ["rows"], []],
      ["chunk", ["rows"], undefined],
      ["chunk", ["rows", 0], []],
      ["chunk", ["rows", 0], { row: 32, data: { order_id: "ORD-31" } }],
      ["chunk", ["rows", 0, 0], 0],
      ["chunk", ["rows", 0, 0], 32.5],
      ["chunk", ["rows", 0, 0], "32"],
      ["chunk", ["rows", 0, 3], { nested: true }],
      ["chunk", ["rows", 0, 3], [1, 2]],
      ["chunk", ["columns"], undefined],
      ["chunk", ["columns"], []],
      ["chunk", ["columns", 2], 7],
      ["chunk", ["columns"], ["order_id", "customer", "order_id", "paid"]],
      ["chunk", ["columns", 3], "__proto__"],
      ["chunk", ["warnings"], []],
      ["chunk", ["warnings"], { row: 33, column: "quantity", code: "CELL_ERROR", message: "m" }],
      ["chunk", ["warnings", 0, "row"], 0],
      ["chunk", ["warnings", 0, "row"], undefined],
      ["chunk", ["warnings", 0, "code"], undefined],
      ["chunk", ["index"], -1],
      ["task-result", ["v"], 2],
      ["task-result", ["accepted"], -1],
      ["task-result", ["rejected", "rows", 0], [33]],
      ["task-result", ["rejected", "rows", 0], [33, 0, 1]],
      ["task-result", ["rejected", "rows", 0], [0, 0]],
      ["task-result", ["rejected", "reasons", 0, "code"], ""],
      ["task-result", ["rejected", "reasons", 0, "code"], "X".repeat(65)],
      ["task-result", ["rejected", "reasons", 0, "message"], "m".repeat(1001)],
      ["task-result", ["rejected"], [{ row: 33, code: "X", message: "unpacked" }]],
      ["task-failure-cause", ["message"], undefined],
      ["task-failure-cause", ["chunkIndex"], -1],
      ["failure-record", ["status"], "SUCCEEDED"],
      ["failure-record", ["error", "code"], undefined],
      ["failure-record", ["rejectedSample", 0, "row"], 0],
      [
        "failure-record",
        ["rejectedSample"],
        Array.from({ length: REJECTED_SAMPLE_LIMIT + 1 }, (_, i) => ({
          chunkIndex: 0,
          row: i + 2,
          code: "X",
          message: "m",
        })),
      ],
    ];
    for (const [name, path, to] of refused) {
      const value = changed(samples[name]!.value, path, to);
      const what = `${name} with ${path.join(".")} = ${JSON.stringify(to)}`;
      expect(samples[name]!.schema.safeParse(value).success, what).toBe(false);
      expect(validate(name, value).length, what).toBeGreaterThan(0);
    }
  });

  it("cannot say that a chunk's row has one value per column: zod refuses it, the JSON Schema cannot", () => {
    for (const record of [
      [32, "ORD-31", "Müller GmbH", 2],
      [32, "ORD-31", "Müller GmbH", 2, true, "one too many"],
      [32],
    ]) {
      const value = changed(chunk, ["rows", 1], record);
      expect(ChunkSchema.safeParse(value).success, JSON.stringify(record)).toBe(false);
      expect(validate("chunk", value), JSON.stringify(record)).toEqual([]);
    }
  });

  it("cannot say that a packed rejected row names an existing reason: zod refuses it, the JSON Schema cannot", () => {
    const value = changed(taskResult, ["rejected", "rows", 0], [33, 7]);
    expect(TaskResultSchema.safeParse(value).success).toBe(false);
    expect(validate("task-result", value)).toEqual([]);
  });
});
