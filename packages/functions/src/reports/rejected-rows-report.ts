import { once } from "node:events";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  type ChunkRow,
  ChunkSchema,
  chunkRows,
  ManifestSchema,
  REJECTED_ROWS_CSV,
  REJECTED_ROWS_XLSX,
  type RejectedRow,
  type RejectedRowsReport,
} from "@sluice/contract";
import type { CellValue } from "@sluice/core";
import type { RejectedRowCollector } from "../adapters/map-run-results.ts";
import { readJsonObject } from "../adapters/map-run-results.ts";
import { bodyToReadable } from "../adapters/s3-body.ts";
import type { ReportReference } from "../alerts/block-kit.ts";
import type { Logger } from "../logger.ts";
import { CSV_BOM, type CsvValue, csvLine } from "./csv-writer.ts";

const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/** lib-storage's smallest part; two parts in flight per file keeps the writer's memory near 20 MiB. */
const PART_SIZE = 5 * 1024 * 1024;

export interface RejectedRowsReportInput {
  s3: S3Client;
  /** Where the upload's chunks.jsonl and manifest.json are, and where the report goes. */
  bucket: string;
  /** The upload's processed prefix, `processed/<uploadId>/`. */
  prefix: string;
  chunksKey: string;
  manifestKey: string;
  uploadId: string;
  rejected: RejectedRowCollector;
  logger?: Logger | undefined;
  /** Stops the report (the uploads are aborted, nothing half-written is left) when it fires. */
  signal?: AbortSignal | undefined;
}

/** A chunk line starts with `{"v":3,"uploadId":"...","index":N,` (core's chunk writer): read N without parsing. */
const CHUNK_HEAD = /^\{"v":\d+,"uploadId":"(?:[^"\\]|\\.)*","index":(\d+)[,}]/;

export function chunkIndexOfLine(line: string): number | undefined {
  const match = CHUNK_HEAD.exec(line.slice(0, 400));
  if (match) return Number(match[1]);
  try {
    const index = (JSON.parse(line) as { index?: unknown }).index;
    return typeof index === "number" ? index : undefined;
  } catch {
    return undefined;
  }
}

export function rejectedRowsReportKeys(prefix: string): { csvKey: string; xlsxKey: string } {
  return { csvKey: `${prefix}${REJECTED_ROWS_CSV}`, xlsxKey: `${prefix}${REJECTED_ROWS_XLSX}` };
}

type Line = CsvValue[];

/**
 * Writes processed/<uploadId>/rejected-rows.csv and .xlsx: a header row (Row, the sheet's own header, Error
 * code, Error message) and one line per rejected row with its original row number, its original values read
 * back from chunks.jsonl, and the reason the admin server gave. chunks.jsonl is streamed line by line and
 * only the chunks that have rejected rows are parsed; reading stops after the last of them. Both files are
 * streamed to S3 as they are written (the xlsx through exceljs' streaming WorkbookWriter without shared
 * strings), so memory stays bounded whatever the upload's size. At most the collector's cap of rows is
 * written; when capped, a last line says so. Returns null when no row was rejected.
 */
export async function writeRejectedRowsReport(
  input: RejectedRowsReportInput,
): Promise<RejectedRowsReport | null> {
  const { s3, bucket, rejected } = input;
  if (rejected.total === 0) return null;
  const manifest = ManifestSchema.parse(await readJsonObject(s3, bucket, input.manifestKey));
  const header = manifest.header;
  const { csvKey, xlsxKey } = rejectedRowsReportKeys(input.prefix);
  const wanted = new Map<number, RejectedRow[]>(rejected.chunks());
  const capped = rejected.capped;

  const csvBody = new PassThrough();
  const xlsxBody = new PassThrough();
  const upload = (key: string, body: PassThrough, contentType: string, extension: string) =>
    new Upload({
      client: s3,
      params: {
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentDisposition: `attachment; filename="${input.uploadId.replace(/[^\w.-]/g, "_")}-rejected-rows.${extension}"`,
      },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
  const uploads = [
    upload(csvKey, csvBody, "text/csv; charset=utf-8", "csv"),
    upload(xlsxKey, xlsxBody, XLSX_TYPE, "xlsx"),
  ];
  // Started before anything is written, so that the bodies are read while they are produced.
  const done = Promise.all(uploads.map((u) => u.done()));
  let failed: unknown;
  const failure = done.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => {
      failed = error;
      throw error;
    },
  );
  failure.catch(() => {});

  const { default: ExcelJS } = await import("exceljs");
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: xlsxBody,
    useSharedStrings: false,
    useStyles: true,
  });
  const sheet = workbook.addWorksheet("Rejected rows", { views: [{ state: "frozen", ySplit: 1 }] });
  sheet.columns = [
    { width: 8 },
    ...header.map((name) => ({ width: Math.min(40, Math.max(10, name.length + 2)) })),
    { width: 22 },
    { width: 60 },
  ];

  const waitFor = async (stream: PassThrough) => {
    if (stream.writableNeedDrain) await Promise.race([once(stream, "drain"), failure]);
  };
  let written = 0;
  let first = true;
  const write = async (line: Line, bold = false) => {
    if (failed) throw failed;
    if (input.signal?.aborted) throw input.signal.reason ?? new Error("The report was stopped");
    csvBody.write(first ? `${CSV_BOM}${csvLine(line)}` : csvLine(line));
    first = false;
    const row = sheet.addRow(line.map((v) => (v === undefined ? null : v)));
    if (bold) row.font = { bold: true };
    row.commit();
    await waitFor(csvBody);
    await waitFor(xlsxBody);
  };
  const reportLine = async (rejectedRow: RejectedRow, data: ChunkRow["data"] | undefined) => {
    const values: CsvValue[] = header.map((name) => (data ? cellValue(data[name]) : null));
    await write([rejectedRow.row, ...values, rejectedRow.code, rejectedRow.message]);
    written++;
  };

  try {
    await write(["Row", ...header, "Error code", "Error message"], true);
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: input.chunksKey }));
    const stream = bodyToReadable(response.Body);
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const text of lines) {
        if (wanted.size === 0) break;
        const index = chunkIndexOfLine(text);
        const rows = index === undefined ? undefined : wanted.get(index);
        if (index === undefined || !rows) continue;
        wanted.delete(index);
        const chunk = ChunkSchema.safeParse(JSON.parse(text));
        // Keyed by the chunk's own columns: a column the header gained after this chunk reads as empty.
        const byRow = new Map(chunk.success ? chunkRows(chunk.data).map((r) => [r.row, r.data]) : []);
        for (const rejectedRow of rows) await reportLine(rejectedRow, byRow.get(rejectedRow.row));
      }
    } finally {
      lines.close();
      stream.destroy();
    }
    // Chunks the results named but chunks.jsonl did not hold: the rows still get their reason.
    let missing = 0;
    for (const rows of wanted.values()) {
      for (const rejectedRow of rows) {
        await reportLine(rejectedRow, undefined);
        missing++;
      }
    }
    if (missing > 0) {
      input.logger?.warn("Rejected rows of chunks not found in chunks.jsonl", { missing });
      await write([
        `${missing.toLocaleString("en-US")} rejected rows are not in chunks.jsonl; their values are empty.`,
      ]);
    }
    if (capped) {
      await write([
        `Capped: this report lists the first ${written.toLocaleString("en-US")} of ${rejected.total.toLocaleString("en-US")} rejected rows.`,
      ]);
    }
    csvBody.end();
    sheet.commit();
    await Promise.race([workbook.commit(), failure]);
    await done;
  } catch (error) {
    await Promise.allSettled(uploads.map((u) => u.abort()));
    csvBody.destroy();
    xlsxBody.destroy();
    throw failed ?? error;
  }
  return { bucket, csvKey, xlsxKey, rows: written, capped };
}

function cellValue(value: CellValue | undefined): CsvValue {
  return value === undefined ? null : value;
}

/**
 * The report as the alerts show it: its location and, when a reportLink is given, a link to each file.
 * A link that cannot be made is logged and left out; the location is still shown.
 */
export async function referenceTo(
  report: RejectedRowsReport,
  reportLink: ((bucket: string, key: string) => Promise<string>) | undefined,
  logger: Logger,
): Promise<ReportReference> {
  const link = async (key: string) => {
    if (!reportLink) return undefined;
    try {
      return await reportLink(report.bucket, key);
    } catch (error) {
      logger.warn("Could not make a link to the rejected-rows report", {
        key,
        error: (error as Error).message,
      });
      return undefined;
    }
  };
  return { ...report, csvUrl: await link(report.csvKey), xlsxUrl: await link(report.xlsxKey) };
}

/** Writes the report if any row was rejected; a failure is logged and gives null, never an error. */
export async function tryWriteRejectedRowsReport(
  input: RejectedRowsReportInput & { logger: Logger },
): Promise<RejectedRowsReport | null> {
  if (input.rejected.total === 0) return null;
  try {
    const report = await writeRejectedRowsReport(input);
    if (report) input.logger.info("Rejected-rows report written", { ...report });
    return report;
  } catch (error) {
    input.logger.error("Writing the rejected-rows report failed", { error: error as Error });
    return null;
  }
}
