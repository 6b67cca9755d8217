import { randomBytes } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  formUploadKey,
  TENANT_PATTERN,
  UPLOAD_FORM_CONTENT_TYPES,
  UPLOAD_FORM_METADATA,
  type UploadFormExtension,
  uploadIdSlug,
} from "@sluice/contract";
import { invalidOption, SluiceAdminError } from "./errors.ts";

export interface UploadFormRequest {
  /** Any Unicode, e.g. "주문 목록.xlsx"; only its extension and slug are used in the key. */
  fileName: string;
  /** Bytes, as the browser's File.size says. */
  size: number;
  /** The browser's File.type, checked against the extension's type. */
  contentType?: string;
  maxBytes: number;
  /** Default 900, 1..604800. */
  expiresInSeconds?: number;
  /** TENANT_PATTERN. */
  tenant?: string;
  /** More x-amz-meta-<key> headers: keys [a-z0-9-], values any text (sent percent-encoded). */
  metadata?: Record<string, string>;
}

export interface UploadForm {
  uploadId: string;
  key: string;
  method: "PUT";
  /** The presigned URL. */
  url: string;
  /** Send exactly these with the PUT (the browser sets content-length itself from the body). */
  headers: Record<string, string>;
  /** ISO. */
  expiresAt: string;
  maxBytes: number;
}

/** S3's largest single PUT ("Uploading objects", Amazon S3 User Guide): 5 GiB. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
/** A SigV4 presigned URL lives at most 7 days. */
export const MAX_EXPIRES_IN_SECONDS = 604_800;
export const DEFAULT_EXPIRES_IN_SECONDS = 900;
/** S3 user metadata: at most 2 KB, the UTF-8 bytes of every key and value summed. */
export const MAX_METADATA_BYTES = 2048;

const METADATA_KEY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** What browsers report for a csv besides text/csv (Windows with Excel installed says application/vnd.ms-excel). */
const CSV_ALIASES = new Set(["application/vnd.ms-excel"]);
/** A browser that does not know the type says nothing or application/octet-stream. */
const UNKNOWN_TYPES = new Set(["", "application/octet-stream"]);

/** The headers the URL signs besides host; the x-amz-meta-* ones are added per form. */
const SIGNED_HEADERS = ["content-type", "content-length", "if-none-match"];

function extensionOf(fileName: string): UploadFormExtension {
  const extension = /\.([^./\\]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (extension === undefined || !Object.hasOwn(UPLOAD_FORM_CONTENT_TYPES, extension))
    throw new SluiceAdminError(
      "UPLOAD_TYPE_NOT_ALLOWED",
      `${JSON.stringify(fileName)} is not a workbook sluice takes: only ${Object.keys(
        UPLOAD_FORM_CONTENT_TYPES,
      )
        .map((e) => `.${e}`)
        .join(" and ")} files`,
    );
  return extension as UploadFormExtension;
}

function checkContentType(contentType: string | undefined, extension: UploadFormExtension): void {
  if (contentType === undefined) return;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (UNKNOWN_TYPES.has(type) || type === UPLOAD_FORM_CONTENT_TYPES[extension]) return;
  if (extension === "csv" && CSV_ALIASES.has(type)) return;
  throw new SluiceAdminError(
    "UPLOAD_TYPE_NOT_ALLOWED",
    `the file says it is ${JSON.stringify(contentType)}, not a .${extension} workbook (${UPLOAD_FORM_CONTENT_TYPES[extension]})`,
  );
}

/** S3 user metadata is ASCII: any text goes percent-encoded (a lone surrogate has no encoding). */
function metadataValue(name: string, value: unknown): string {
  if (typeof value !== "string") throw invalidOption(`metadata ${JSON.stringify(name)} must be a string`);
  try {
    return encodeURIComponent(value);
  } catch {
    throw invalidOption(`metadata ${JSON.stringify(name)} is not valid text`);
  }
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw invalidOption(`${name} must be a whole number from ${min} to ${max}, not ${String(value)}`);
  return value;
}

/** The user metadata of a form's object, checked: the original name, the tenant, then the caller's. */
function formMetadata(request: UploadFormRequest): Record<string, string> {
  const metadata: Record<string, string> = {
    [UPLOAD_FORM_METADATA.originalName]: metadataValue("fileName", request.fileName),
  };
  if (request.tenant !== undefined) metadata[UPLOAD_FORM_METADATA.tenant] = request.tenant;
  const reserved = new Set<string>(Object.values(UPLOAD_FORM_METADATA));
  for (const [name, value] of Object.entries(request.metadata ?? {})) {
    if (!METADATA_KEY.test(name))
      throw invalidOption(`metadata key ${JSON.stringify(name)} is not [a-z0-9-] (an HTTP header name)`);
    if (reserved.has(name)) throw invalidOption(`metadata key ${JSON.stringify(name)} is sluice's own`);
    metadata[name] = metadataValue(name, value);
  }
  const bytes = Object.entries(metadata).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  if (bytes > MAX_METADATA_BYTES)
    throw invalidOption(
      `the form's metadata is ${bytes} bytes once encoded; S3 takes at most ${MAX_METADATA_BYTES}`,
    );
  return metadata;
}

/**
 * The SDK adds a CRC32 of the (empty, at signing time) body to a PutObject (requestChecksumCalculation
 * WHEN_SUPPORTED, the default since 3.729.0): in a presigned URL that checksum would refuse every real file.
 * A form's object has its size and type signed instead; the checksum headers are dropped before signing.
 */
function withoutBodyChecksum(command: PutObjectCommand): PutObjectCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      for (const name of Object.keys(request.headers ?? {})) {
        const lower = name.toLowerCase();
        if (lower.startsWith("x-amz-checksum-") || lower === "x-amz-sdk-checksum-algorithm")
          delete request.headers![name];
      }
      return next(args);
    },
    { step: "build", priority: "low", name: "sluiceAdminWithoutBodyChecksum" },
  );
  return command;
}

export interface UploadFormDeps {
  s3: S3Client;
  bucket: string;
  now: () => number;
}

/**
 * A presigned PUT for a key sluice chooses (uploads/forms/[tenant/]<slug>-<random>.<ext>), with the type, the
 * exact size, if-none-match: * (written once) and the metadata signed as headers: S3 refuses the PUT when the
 * browser sends anything else.
 */
export async function createUploadForm(
  deps: UploadFormDeps,
  request: UploadFormRequest,
): Promise<UploadForm> {
  if (typeof request?.fileName !== "string" || request.fileName.trim() === "")
    throw invalidOption("fileName must be the file's name");
  const maxBytes = checkInteger("maxBytes", request.maxBytes, 1, MAX_SINGLE_PUT_BYTES);
  const expiresIn = checkInteger(
    "expiresInSeconds",
    request.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS,
    1,
    MAX_EXPIRES_IN_SECONDS,
  );
  if (request.tenant !== undefined && !TENANT_PATTERN.test(request.tenant))
    throw invalidOption(`tenant ${JSON.stringify(request.tenant)} is not [a-z0-9-], 1 to 40 long`);
  const extension = extensionOf(request.fileName);
  checkContentType(request.contentType, extension);
  if (typeof request.size !== "number" || !Number.isInteger(request.size) || request.size < 1)
    throw invalidOption(`size must be the file's size in bytes (at least 1), not ${String(request.size)}`);
  if (request.size > maxBytes)
    throw new SluiceAdminError(
      "UPLOAD_TOO_LARGE",
      `the file is ${request.size.toLocaleString("en")} bytes; at most ${maxBytes.toLocaleString("en")} are taken`,
    );
  const metadata = formMetadata(request);

  const uploadId = `${uploadIdSlug(request.fileName)}-${randomBytes(6).toString("hex")}`;
  const key = formUploadKey({ uploadId, extension, tenant: request.tenant });
  const contentType = UPLOAD_FORM_CONTENT_TYPES[extension];
  const metadataHeaders = Object.keys(metadata).map((name) => `x-amz-meta-${name}`);
  const signingDate = new Date(deps.now());
  const command = withoutBodyChecksum(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      ContentType: contentType,
      ContentLength: request.size,
      IfNoneMatch: "*",
      Metadata: metadata,
    }),
  );
  const url = await getSignedUrl(deps.s3, command, {
    expiresIn,
    signingDate,
    // The presigner leaves content-type unsigned and moves x-amz-* headers into the query unless told.
    signableHeaders: new Set([...SIGNED_HEADERS, ...metadataHeaders]),
    unhoistableHeaders: new Set(metadataHeaders),
  });
  const headers: Record<string, string> = { "content-type": contentType, "if-none-match": "*" };
  for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
  return {
    uploadId,
    key,
    method: "PUT",
    url,
    headers,
    expiresAt: new Date(signingDate.getTime() + expiresIn * 1000).toISOString(),
    maxBytes,
  };
}
