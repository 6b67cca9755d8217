import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { InvalidOptionError, SourceReadError } from "@sluice/core";
import type { UploadResponse } from "./serve-command.ts";
import { parseCommandArgs } from "./step-functions-options.ts";

export const UPLOAD_USAGE = `usage: sluice upload <file> [--endpoint URL] [--force] [--json]

Uploads a workbook to a running "sluice serve": it lands in the local bucket and the S3 event starts the
workflow. The same file version again starts nothing, unless --force (a new execution <upload-id>-r2).
  --endpoint URL   the upload URL "sluice serve" printed (default: $SLUICE_UPLOAD_URL)`;

export async function runUpload(
  argv: string[],
  say: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<UploadResponse> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { endpoint: { type: "string" }, force: { type: "boolean" }, json: { type: "boolean" } },
    UPLOAD_USAGE,
  );
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one file\n${UPLOAD_USAGE}`);
  const file = positionals[0]!;
  const endpoint = values.endpoint ?? env.SLUICE_UPLOAD_URL;
  if (!endpoint)
    throw new InvalidOptionError(`--endpoint (or SLUICE_UPLOAD_URL) is required\n${UPLOAD_USAGE}`);
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT"
      ? new InvalidOptionError(`no such file: ${file}`)
      : new SourceReadError(`cannot read ${file}: ${error.message}`, { cause: error });
  });
  const url = new URL(endpoint);
  url.searchParams.set("name", basename(file));
  if (values.force) url.searchParams.set("force", "1");
  const response = await fetch(url, { method: "POST", body: bytes });
  const body = (await response.json()) as UploadResponse & { error?: string; message?: string };
  if (!response.ok) {
    const error = new InvalidOptionError(
      `upload refused: ${body.error ?? response.status}: ${body.message ?? ""}`,
    );
    throw error;
  }
  if (!values.json) {
    say(
      body.reprocessId
        ? `started ${body.reprocessId} (forced; the same file as ${body.uploadId})`
        : body.duplicate
          ? `upload ${body.uploadId}: same file version as before, nothing started (--force starts a new execution)`
          : `upload ${body.uploadId}: started; follow it with: sluice status ${body.uploadId}`,
    );
  }
  return body;
}
