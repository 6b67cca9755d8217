import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { Manifest } from "@sluice/contract";
import {
  type ConvertProgress,
  convertWorkbook,
  deriveUploadId,
  InvalidOptionError,
  openFileSource,
  SourceReadError,
} from "@sluice/core";
import { FileChunkSink } from "../file-chunk-sink.ts";

export const CONVERT_USAGE = `usage: sluice convert <file> [--out DIR] [--sheet NAME] [--chunk-rows N] [--chunk-bytes N] [--upload-id ID]

Converts an xlsx or csv workbook into DIR/chunks.jsonl and DIR/manifest.json (default DIR: out/<upload-id>).
The last line on stdout is a JSON summary.`;

export interface ConvertSummary {
  rows: number;
  chunks: number;
  sheet: string;
  header: string[];
  format: Manifest["format"];
  uploadId: string;
  out: string;
  rowErrors: number;
  warnings: number;
  /** File-level warnings (e.g. FORMAT_EXTENSION_MISMATCH): the file converted, but something deserves a look. */
  fileWarnings: Manifest["fileWarnings"];
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new InvalidOptionError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `sluice convert`: returns the summary; throws typed errors for the caller to map to an exit code. */
export async function runConvert(
  argv: string[],
  progress?: (p: ConvertProgress) => void,
): Promise<ConvertSummary> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new InvalidOptionError(`${(error as Error).message}\n${CONVERT_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one input file\n${CONVERT_USAGE}`);
  const file = positionals[0]!;
  const chunkRows = positiveInt("chunk-rows", values["chunk-rows"]);
  const chunkBytes = positiveInt("chunk-bytes", values["chunk-bytes"]);

  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT"
      ? new InvalidOptionError(`no such file: ${file}`)
      : new SourceReadError(`cannot read ${file}: ${error.message}`, { cause: error });
  });
  if (!info.isFile()) throw new InvalidOptionError(`not a file: ${file}`);
  const uploadId = values["upload-id"] ?? deriveUploadId(basename(file), `${info.size}:${info.mtimeMs}`);
  const out = values.out ?? join("out", uploadId);

  const source = await openFileSource(file, basename(file));
  const sink = await FileChunkSink.create(out).catch(async (error: unknown) => {
    await source.close();
    throw error;
  });
  try {
    const manifest = await convertWorkbook({
      source,
      uploadId,
      sink,
      options: {
        ...(values.sheet === undefined ? {} : { sheet: values.sheet }),
        ...(chunkRows === undefined ? {} : { chunkRows }),
        ...(chunkBytes === undefined ? {} : { chunkBytes }),
        ...(progress ? { onProgress: progress } : {}),
      },
    });
    await sink.commit(manifest);
    return {
      rows: manifest.totalRows,
      chunks: manifest.totalChunks,
      sheet: manifest.sheet,
      header: manifest.header,
      format: manifest.format,
      uploadId,
      out,
      rowErrors: manifest.rowErrors.count,
      warnings: manifest.warnings.count,
      fileWarnings: manifest.fileWarnings,
    };
  } catch (error) {
    // The conversion's own error is the one to report: a cleanup that fails too must not replace it.
    await sink.abort().catch(() => undefined);
    throw error;
  } finally {
    await source.close();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: "string" },
      sheet: { type: "string" },
      "chunk-rows": { type: "string" },
      "chunk-bytes": { type: "string" },
      "upload-id": { type: "string" },
    },
  });
}
