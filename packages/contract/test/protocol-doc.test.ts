import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { STALE_TOKEN_ERRORS, TASK_OUTPUT_LIMIT_BYTES } from "@sluice/consumer";
import {
  ChunkEnvelopeSchema,
  ChunkSchema,
  CONTRACT_VERSION,
  chunkRows,
  ERROR_CODES,
  errorCodesOf,
  MAX_CHUNK_BYTES,
  TASK_FAILURE_LIMITS,
  TaskFailureCauseSchema,
  TaskResultSchema,
} from "@sluice/contract";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";

/**
 * docs/protocol.md is what an admin server in another language is written from: its worked example must be a
 * message, a chunk, a task result and a failure cause that sluice accepts, consistent with one another, and what
 * it says about codes and limits must be the contract's.
 */

const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

/** The fenced code block right after each `<!-- example: NAME -->`, verbatim (without its final newline). */
function examples(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of markdown.matchAll(/<!-- example: ([a-z-]+) -->\n```[a-z]*\n([\s\S]*?)\n```/g)) {
    expect(found.has(match[1]!), `example ${match[1]} appears twice`).toBe(false);
    found.set(match[1]!, match[2]!);
  }
  return found;
}

const blocks = examples(doc);
const json = (name: string): unknown => {
  const text = blocks.get(name);
  if (text === undefined) throw new Error(`docs/protocol.md has no example "${name}"`);
  return JSON.parse(text);
};

// strictTuples off: a chunk's row, `[row, ...values]`, is a tuple with rest items on purpose (ajv's strict mode
// takes any tuple that is not of fixed length for a mistake).
const ajv = new Ajv2020({ strict: true, strictTuples: false, allowUnionTypes: true, allErrors: true });
function jsonSchemaErrors(name: string, value: unknown): string[] {
  const schema = JSON.parse(
    readFileSync(new URL(`../schemas/${name}.json`, import.meta.url), "utf8"),
  ) as object;
  const check = ajv.compile(schema);
  return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
}

const message = ChunkEnvelopeSchema.parse(json("chunk-message"));
const pointer = message.chunk;

describe("docs/protocol.md's worked example", () => {
  it("has each example once", () => {
    expect([...blocks.keys()].sort()).toEqual([
      "chunk-line",
      "chunk-message",
      "chunk-row",
      "get-object-request",
      "send-task-failure",
      "send-task-success",
      "task-failure-cause",
      "task-result",
    ]);
  });

  it("shows a chunk message valid against the zod schema and packages/contract/schemas/chunk-message.json", () => {
    expect(jsonSchemaErrors("chunk-message", json("chunk-message"))).toEqual([]);
    expect(message.v).toBe(CONTRACT_VERSION);
    expect(doc).toContain(`Contract version ${CONTRACT_VERSION}.`);
    expect(pointer.key).toMatch(/^processed\/[^/]+\/chunks\.jsonl$/);
    expect(pointer.key).toBe(`processed/${message.uploadId}/chunks.jsonl`);
  });

  it("fetches exactly the pointer's byte range", () => {
    expect(json("get-object-request")).toEqual({
      Bucket: pointer.bucket,
      Key: pointer.key,
      Range: `bytes=${pointer.offset}-${pointer.offset + pointer.length - 1}`,
    });
  });

  it("shows the chunk's exact bytes: the pointer's length and SHA-256, the chunk it names", () => {
    const line = blocks.get("chunk-line")!;
    const bytes = Buffer.from(line, "utf8");
    expect(bytes.byteLength).toBe(pointer.length);
    expect(createHash("sha256").update(bytes).digest("base64")).toBe(pointer.sha256);
    expect(bytes.byteLength).toBeGreaterThan(line.length); // the point the doc makes: bytes, not characters
    expect(doc).toContain(`exact ${pointer.length} bytes of its line (${line.length} characters`);
    const chunk = ChunkSchema.parse(JSON.parse(line));
    expect(jsonSchemaErrors("chunk", JSON.parse(line))).toEqual([]);
    expect(chunk.uploadId).toBe(message.uploadId);
    expect({
      index: chunk.index,
      chunkId: chunk.chunkId,
      firstRow: chunk.firstRow,
      lastRow: chunk.lastRow,
      rows: chunk.rows.length,
    }).toEqual({
      index: pointer.index,
      chunkId: pointer.chunkId,
      firstRow: pointer.firstRow,
      lastRow: pointer.lastRow,
      rows: pointer.rows,
    });
  });

  it("shows a compact chunk with a cell warning, and reads one of its rows as chunkRows does", () => {
    const chunk = ChunkSchema.parse(JSON.parse(blocks.get("chunk-line")!));
    expect(chunk.warnings?.length).toBeGreaterThan(0);
    for (const record of chunk.rows) expect(record).toHaveLength(chunk.columns.length + 1);
    const shown = json("chunk-row") as { row: number };
    const keyed = chunkRows(chunk);
    expect(keyed.find((r) => r.row === shown.row)).toEqual(shown);
    // The row shown is the one the warning is about; the others have none.
    expect(keyed.filter((r) => r.warnings).map((r) => r.row)).toEqual([shown.row]);
    expect(doc).toContain("zip `columns` with the values after the row number");
  });

  it("answers it with a packed TaskResult that counts every row of the chunk once", () => {
    const value = json("task-result");
    const result = TaskResultSchema.parse(value);
    expect(jsonSchemaErrors("task-result", value)).toEqual([]);
    expect(result).toMatchObject({ uploadId: message.uploadId, chunkIndex: pointer.index });
    expect(result.accepted + result.rejected.rows.length).toBe(pointer.rows);
    const chunk = ChunkSchema.parse(JSON.parse(blocks.get("chunk-line")!));
    const rowNumbers = new Set(chunk.rows.map(([row]) => row));
    for (const [row] of result.rejected.rows) expect(rowNumbers.has(row), `row ${row}`).toBe(true);
    expect(new Set(result.rejected.rows.map(([row]) => row)).size).toBe(result.rejected.rows.length);
    // Each reason once.
    const reasons = result.rejected.reasons.map((r) => `${r.code}\u0000${r.message}`);
    expect(new Set(reasons).size).toBe(reasons.length);
  });

  it("sends that TaskResult as SendTaskSuccess's output string, within 256 KiB", () => {
    const call = json("send-task-success") as { taskToken: string; output: string };
    expect(Object.keys(call).sort()).toEqual(["output", "taskToken"]);
    expect(call.taskToken).toBe(message.taskToken);
    expect(JSON.parse(call.output)).toEqual(json("task-result"));
    expect(Buffer.byteLength(call.output, "utf8")).toBeLessThanOrEqual(TASK_OUTPUT_LIMIT_BYTES);
  });

  it("shows a failure cause valid against the schemas, naming the chunk with a permanent chunk code", () => {
    const value = json("task-failure-cause");
    const cause = TaskFailureCauseSchema.parse(value);
    expect(jsonSchemaErrors("task-failure-cause", value)).toEqual([]);
    expect(cause).toMatchObject({
      chunkIndex: pointer.index,
      firstRow: pointer.firstRow,
      lastRow: pointer.lastRow,
      rows: pointer.rows,
    });
    expect(ERROR_CODES[cause.code as keyof typeof ERROR_CODES]).toMatchObject({
      area: "chunk",
      retryable: false,
    });
  });

  it("sends it as SendTaskFailure's cause string, within Step Functions' limits", () => {
    const call = json("send-task-failure") as { taskToken: string; error: string; cause: string };
    expect(Object.keys(call).sort()).toEqual(["cause", "error", "taskToken"]);
    expect(call.taskToken).toBe(message.taskToken);
    expect(JSON.parse(call.cause)).toEqual(json("task-failure-cause"));
    expect(call.error).toBe((json("task-failure-cause") as { code: string }).code);
    expect(call.error.length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.errorLength);
    expect(call.cause.length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.causeLength);
  });
});

describe("docs/protocol.md's rules", () => {
  /** The rows of the "Codes an admin server sends" table: code and retryable. */
  function codeTable(): Map<string, boolean> {
    const section = doc.split("### Codes an admin server sends")[1]?.split(/\n#{2,3} /)[0] ?? "";
    const rows = new Map<string, boolean>();
    for (const match of section.matchAll(/^\| `([A-Z_]+)` \| (yes|no) \|/gm)) {
      rows.set(match[1]!, match[2] === "yes");
    }
    return rows;
  }

  it("lists every chunk code of the error-code table with its retryability, and links the table", () => {
    const rows = codeTable();
    expect([...rows.keys()].sort()).toEqual([...errorCodesOf("chunk")].sort());
    for (const [code, retryable] of rows) {
      expect(retryable, code).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES].retryable);
    }
    expect(doc).toContain("(../packages/contract/README.md#error-codes)");
  });

  it("names the stale-token errors the consumer SDK acts on", () => {
    for (const name of STALE_TOKEN_ERRORS) expect(doc).toContain(`\`${name}\``);
  });

  it("states the contract's limits", () => {
    const n = (value: number) => value.toLocaleString("en-US");
    expect(doc).toContain(`${n(TASK_OUTPUT_LIMIT_BYTES)} bytes (256 KiB) of UTF-8`);
    expect(doc).toContain(`\`error\` is at most **${n(TASK_FAILURE_LIMITS.errorLength)}** characters`);
    expect(doc).toContain(`\`cause\` at most **${n(TASK_FAILURE_LIMITS.causeLength)}**`);
    expect(doc).toContain(`${MAX_CHUNK_BYTES / 1024 / 1024} MiB at most`);
    // The Python sketch uses the same numbers.
    expect(doc).toContain(`> ${TASK_OUTPUT_LIMIT_BYTES}:`);
    expect(doc).toContain(`MAX_CHUNK_BYTES = ${MAX_CHUNK_BYTES / 1024 / 1024} * 1024 * 1024`);
  });

  it("links every JSON Schema file it names", () => {
    for (const name of ["chunk-message", "chunk", "task-result", "task-failure-cause", "failure-record"]) {
      expect(doc).toContain(`\`${name}.json\``);
    }
  });
});
