import type { CellValue, Chunk, ChunkRow, KeyedChunk } from "./messages.ts";

/** Builds one row's `data` object from its wire record (`[row, value per column]`). */
type DataOf = (record: Chunk["rows"][number]) => Record<string, CellValue>;

/** How a factory's source becomes a function; injected by tests (a runtime that forbids code generation). */
export type CompileRowData = (source: string) => DataOf;

const compileWithFunction: CompileRowData = (source) => new Function("r", source) as DataOf;

/**
 * The keyed object of a column list as one object literal, `{ ["sku"]: r[1], ["qty"]: r[2], … }`: V8 builds
 * such objects with their final shape at once, about twice as fast as adding the keys one by one, which matters
 * at 10,000 rows a chunk. Each name is written as a JSON string literal, a valid JavaScript one, in a computed key
 * (a plain `"__proto__":` key would set the prototype, not make a property). Where code generation is refused
 * (`--disallow-code-generation-from-strings`, a browser's CSP), the keys are added one by one.
 */
export function rowDataFactory(
  columns: readonly string[],
  compile: CompileRowData = compileWithFunction,
): DataOf {
  const body = columns.map((name, k) => `[${JSON.stringify(name)}]: r[${k + 1}]`).join(", ");
  try {
    return compile(`return { ${body} };`);
  } catch {
    const width = columns.length;
    return (record) => {
      const data: Record<string, CellValue> = {};
      for (let k = 0; k < width; k++) {
        const name = columns[k]!;
        const value = record[k + 1] as CellValue;
        // Assigned, "__proto__" would set the prototype, not make a property (as the compiled literal does).
        if (name === "__proto__")
          Object.defineProperty(data, name, { value, enumerable: true, writable: true, configurable: true });
        else data[name] = value;
      }
      return data;
    };
  }
}

/** The last column list's factory: an upload's chunks share their columns, so one entry serves them all. */
let cached: { columns: readonly string[]; dataOf: DataOf } | undefined;

function dataFactoryFor(columns: readonly string[]): DataOf {
  const last = cached;
  if (last && last.columns.length === columns.length && last.columns.every((name, k) => name === columns[k]))
    return last.dataOf;
  const dataOf = rowDataFactory(columns);
  cached = { columns: [...columns], dataOf };
  return dataOf;
}

/** The rows of a chunk keyed by column name: the one expansion of the compact layout. */
export function chunkRows(chunk: Pick<Chunk, "columns" | "rows" | "warnings">): ChunkRow[] {
  const { rows } = chunk;
  const dataOf = dataFactoryFor(chunk.columns);
  const out: ChunkRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const record = rows[i]!;
    out[i] = { row: record[0], data: dataOf(record) };
  }
  if (chunk.warnings) {
    // Warnings are rare: look their rows up by number (not by position, which a chunk does not promise).
    const byRow = new Map<number, ChunkRow>();
    for (const r of out) byRow.set(r.row, r);
    for (const { row, column, code, message } of chunk.warnings) {
      const target = byRow.get(row);
      if (target === undefined) continue;
      target.warnings ??= [];
      target.warnings.push({ column, code, message });
    }
  }
  return out;
}

/** The chunk with its rows keyed by column name (`chunkRows`); `columns` stays, in the chunk's order. */
export function keyedChunk(chunk: Chunk): KeyedChunk {
  const { rows: _rows, warnings: _warnings, ...envelope } = chunk;
  return { ...envelope, rows: chunkRows(chunk) };
}
