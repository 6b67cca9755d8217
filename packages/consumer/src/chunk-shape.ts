import { type Chunk, CONTRACT_VERSION } from "@sluice/contract";

/**
 * A fast, conservative check of a parsed chunk against the contract's ChunkSchema. zod takes 50–100 ms for a
 * 10,000-row chunk (a `z.record` of a union per row), more than fetching and hashing the chunk together, and the
 * consumer is single-threaded: it became what bounded delivery. This check walks the same structure in a few
 * milliseconds.
 *
 * It answers true only for a value ChunkSchema accepts and returns unchanged (no key it would strip): the known
 * keys only, `v` the contract version, non-empty strings, safe positive (or non-negative) integers, a non-empty
 * `rows` array of `{ row, data, warnings? }` with cell values string/number/boolean/null and warnings of
 * `{ column, code, message }` strings. Anything else, even what ChunkSchema might accept (an extra key it would
 * strip, a `__proto__` key), answers false and the caller asks ChunkSchema, which stays the judge and names the
 * issues. So this can only make a valid chunk faster, never let an invalid one through.
 */
export function isPlainChunk(value: unknown): value is Chunk {
  if (!isRecord(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (!CHUNK_KEYS.has(key)) return false;
    keys++;
  }
  if (keys !== CHUNK_KEYS.size) return false;
  if (
    value.v !== CONTRACT_VERSION ||
    !isNonEmptyString(value.uploadId) ||
    !isNonEmptyString(value.chunkId) ||
    !isSafeInteger(value.index, 0) ||
    !isSafeInteger(value.firstRow, 1) ||
    !isSafeInteger(value.lastRow, 1)
  ) {
    return false;
  }
  const rows = value.rows;
  if (!Array.isArray(rows) || rows.length === 0) return false;
  for (let i = 0; i < rows.length; i++) {
    if (!isPlainRow(rows[i])) return false;
  }
  return true;
}

const CHUNK_KEYS: ReadonlySet<string> = new Set([
  "v",
  "uploadId",
  "index",
  "chunkId",
  "firstRow",
  "lastRow",
  "rows",
]);

/** JSON.parse's objects: not null, not an array, Object.prototype (what zod's isPlainObject accepts). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === "string" && value.length > 0;
}

function isSafeInteger(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

function isPlainRow(value: unknown): boolean {
  if (!isRecord(value)) return false;
  let hasWarnings = false;
  let keys = 0;
  for (const key in value) {
    if (key === "warnings") hasWarnings = true;
    else if (key !== "row" && key !== "data") return false;
    keys++;
  }
  if (keys !== (hasWarnings ? 3 : 2)) return false;
  if (!isSafeInteger(value.row, 1)) return false;
  const data = value.data;
  if (!isRecord(data)) return false;
  for (const key in data) {
    // zod drops a `__proto__` key from a record's output: leave that to ChunkSchema.
    if (key === "__proto__") return false;
    const cell = data[key];
    if (cell === null) continue;
    const type = typeof cell;
    if (type === "string" || type === "boolean") continue;
    if (type === "number" && Number.isFinite(cell)) continue;
    return false;
  }
  if (!hasWarnings) return true;
  const warnings = value.warnings;
  if (!Array.isArray(warnings)) return false;
  for (const warning of warnings) {
    if (!isRecord(warning)) return false;
    let count = 0;
    for (const key in warning) {
      if (key !== "column" && key !== "code" && key !== "message") return false;
      if (typeof warning[key] !== "string") return false;
      count++;
    }
    if (count !== 3) return false;
  }
  return true;
}
