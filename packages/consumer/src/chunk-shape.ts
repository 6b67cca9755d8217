import { type Chunk, CONTRACT_VERSION } from "@sluice/contract";

/**
 * A fast, conservative check of a parsed chunk against the contract's ChunkSchema. zod takes 15–100 ms for a
 * 10,000-row chunk (a tuple with a union per value, every row copied), more than fetching and hashing the chunk
 * together, and the consumer is single-threaded: it bounded delivery. This check walks the same structure in a
 * millisecond or two, by index, allocating nothing per row (one Set of the column names per chunk).
 *
 * It answers true only for a value ChunkSchema accepts and returns unchanged (no key it would strip): the known
 * keys only (`v`, `uploadId`, `index`, `chunkId`, `firstRow`, `lastRow`, `columns`, `rows`, and `warnings` when
 * present), `v` the contract version, non-empty strings, safe positive (or non-negative) integers, `columns` a
 * non-empty array of distinct strings none of them `__proto__`, `rows` a non-empty array of arrays each exactly
 * `columns.length + 1` long, `[row, ...values]` with `row` a safe positive integer and each value a string, a
 * finite number, a boolean or null, and `warnings`, when present, a non-empty array of
 * `{ row, column, code, message }` (row a safe positive integer, the others strings) with no other key. Anything
 * else, even what ChunkSchema might accept (an extra key it would strip, a `__proto__` key), answers false and the
 * caller asks ChunkSchema, which stays the judge and names the issues. So this can only make a valid chunk faster,
 * never let an invalid one through. (It is given JSON.parse's output, whose arrays hold their elements and nothing
 * else: an array with other own properties, which zod would copy without them, is not looked for.)
 */
export function isPlainChunk(value: unknown): value is Chunk {
  if (!isRecord(value)) return false;
  let hasWarnings = false;
  let keys = 0;
  for (const key in value) {
    if (key === "warnings") hasWarnings = true;
    else if (!CHUNK_KEYS.has(key)) return false;
    keys++;
  }
  if (keys !== CHUNK_KEYS.size + (hasWarnings ? 1 : 0)) return false;
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
  const columns = value.columns;
  if (!isPlainColumns(columns)) return false;
  const rows = value.rows;
  if (!Array.isArray(rows) || rows.length === 0) return false;
  const width = columns.length + 1;
  for (let i = 0; i < rows.length; i++) {
    if (!isPlainRecord(rows[i], width)) return false;
  }
  return !hasWarnings || isPlainWarnings(value.warnings);
}

/** The keys every chunk has (`warnings` is the one optional key). */
const CHUNK_KEYS: ReadonlySet<string> = new Set([
  "v",
  "uploadId",
  "index",
  "chunkId",
  "firstRow",
  "lastRow",
  "columns",
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

/** A non-empty array of distinct strings, none `__proto__` (ChunkSchema refuses one). */
function isPlainColumns(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const name = value[i];
    if (typeof name !== "string" || name === "__proto__") return false;
  }
  return new Set(value).size === value.length;
}

/** `[row, ...values]`: exactly `width` long, a safe positive row number, then cell values. */
function isPlainRecord(value: unknown, width: number): boolean {
  if (!Array.isArray(value) || value.length !== width) return false;
  if (!isSafeInteger(value[0], 1)) return false;
  for (let k = 1; k < width; k++) {
    const cell = value[k];
    if (cell === null) continue;
    const type = typeof cell;
    if (type === "string" || type === "boolean") continue;
    if (type === "number" && Number.isFinite(cell)) continue;
    return false;
  }
  return true;
}

/** A non-empty array of `{ row, column, code, message }`, no other key. */
function isPlainWarnings(value: unknown): boolean {
  if (!Array.isArray(value) || value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const warning = value[i];
    if (!isRecord(warning)) return false;
    let keys = 0;
    for (const key in warning) {
      if (key === "row") {
        if (!isSafeInteger(warning.row, 1)) return false;
      } else if (key === "column" || key === "code" || key === "message") {
        if (typeof warning[key] !== "string") return false;
      } else {
        return false;
      }
      keys++;
    }
    if (keys !== 4) return false;
  }
  return true;
}
