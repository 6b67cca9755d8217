import { openAsBlob } from "node:fs";
import { basename } from "node:path";
import { InvalidOptionError, SourceReadError } from "@sluice/core";
import type { UploadResponse } from "./serve-command.ts";
import { parseCommandArgs } from "./step-functions-options.ts";

export const UPLOAD_USAGE = `usage: sluice upload <file> [--endpoint URL] [--json]

Uploads a workbook to a running "sluice serve": it lands in the local bucket as a new object version and the S3
event starts the workflow, as on AWS (the same file again is a new version and a new upload). To run an earlier
upload's very bytes again: sluice reprocess <upload-id> --force.
  --endpoint URL   the upload URL "sluice serve" printed (default: $SLUICE_UPLOAD_URL)`;

export async function runUpload(
  argv: string[],
  say: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<UploadResponse> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { endpoint: { type: "string" }, json: { type: "boolean" } },
    UPLOAD_USAGE,
  );
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one file\n${UPLOAD_USAGE}`);
  const file = positionals[0]!;
  const endpoint = values.endpoint ?? env.SLUICE_UPLOAD_URL;
  if (!endpoint)
    throw new InvalidOptionError(`--endpoint (or SLUICE_UPLOAD_URL) is required\n${UPLOAD_USAGE}`);
  // A Blob backed by the file: fetch streams it from disk.
  const bytes = await openAsBlob(file).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT"
      ? new InvalidOptionError(`no such file: ${file}`)
      : new SourceReadError(`cannot read ${file}: ${error.message}`, { cause: error });
  });
  const url = new URL(endpoint);
  url.searchParams.set("name", basename(file));
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
      body.duplicate
        ? `upload ${body.uploadId}: the same S3 event as before, nothing started`
        : `upload ${body.uploadId}: started; follow it with: sluice status ${body.uploadId}`,
    );
  }
  return body;
}
