import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { s3ErrorXml } from "./s3-error-xml.ts";

/**
 * S3's check of a presigned request (SigV4 query authentication), for the local bucket: a browser PUTs an upload
 * form's file with a URL the admin server signed, and S3 refuses it unless the request is exactly what was signed.
 * fauxqs accepts any request, so this hook runs first and answers as S3 does ("Authenticating Requests: Using Query
 * Parameters (AWS Signature Version 4)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html):
 *
 * - the six X-Amz-* parameters are required, the algorithm is AWS4-HMAC-SHA256, X-Amz-Expires is 1..604800;
 * - the access key must be the emulator's (403 InvalidAccessKeyId);
 * - past X-Amz-Date + X-Amz-Expires: 403 AccessDenied "Request has expired";
 * - an x-amz-* header the URL did not sign: 403 AccessDenied "There were headers present in the request which
 *   were not signed" (x-amz-content-sha256 excepted);
 * - the signature, recomputed with @smithy/signature-v4 from the request's method, path, query and the headers
 *   X-Amz-SignedHeaders names (payload UNSIGNED-PAYLOAD unless the URL says otherwise), must match: else 403
 *   SignatureDoesNotMatch. A different content-type or content-length, or a missing or changed x-amz-meta-*
 *   header, fails here as on S3.
 *
 * Requests signed in the Authorization header (the SDK clients) are left to fauxqs, which accepts any signature.
 */

export interface QueryAuthOptions {
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Milliseconds since the epoch (tests); Date.now by default. */
  now?: () => number;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const REQUIRED = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Signature",
  "X-Amz-Date",
  "X-Amz-SignedHeaders",
  "X-Amz-Expires",
] as const;
const MAX_EXPIRES_SECONDS = 604_800;

/** A denial as S3 words it: code, status, message and the extra elements S3 adds to that error. */
export class QueryAuthError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = "QueryAuthError";
  }

  toXml(): string {
    return s3ErrorXml(this.code, this.message, this.details);
  }
}

/** SHA-256 (and HMAC-SHA256 with a secret) over node:crypto, in the shape @smithy/signature-v4 takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash("sha256")
        : createHmac("sha256", typeof secret === "string" ? secret : toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === "string" ? data : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error("not used by the signer");
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data);
}

/** SignatureV4's canonical request and string to sign, which it keeps protected. */
class Verifier extends SignatureV4 {
  canonicalRequest(
    request: { method: string; path: string; query: Record<string, string | string[]> },
    headers: Record<string, string>,
    payloadHash: string,
  ): string {
    return this.createCanonicalRequest(
      { ...request, protocol: "http:", hostname: "", headers } as never,
      headers,
      payloadHash,
    );
  }
  stringToSign(longDate: string, scope: string, canonicalRequest: string): Promise<string> {
    return this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM);
  }
}

/** The query string as S3 reads it: `+` is a plus, not a space (SigV4 encodes a space as %20). */
function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const pair of raw.split("&")) {
    if (pair === "") continue;
    const at = pair.indexOf("=");
    const name = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
    const value = at < 0 ? "" : decodeURIComponent(pair.slice(at + 1));
    const existing = query[name];
    query[name] = existing === undefined ? value : [existing, value].flat();
  }
  return query;
}

const malformed = (message: string) => new QueryAuthError("AuthorizationQueryParametersError", 400, message);

/** `YYYYMMDDTHHMMSSZ` as a time, or NaN. */
function amzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Number.NaN;
}

const isoSeconds = (time: number) => new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The header's value as the signer saw it: several values joined with ",", spaces folded and trimmed. */
function headerValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return [value]
    .flat()
    .join(",")
    .replace(/[\r\n]/g, " ")
    .replace(/[ \t]+/g, " ")
    .trim();
}

/**
 * Checks a presigned request; throws a QueryAuthError S3 would answer with. `url` is the request target as the
 * client sent it (path and query, not decoded).
 */
export async function verifyPresignedRequest(
  request: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  options: QueryAuthOptions,
): Promise<void> {
  const at = request.url.indexOf("?");
  const path = at < 0 ? request.url : request.url.slice(0, at);
  let query: Record<string, string | string[]>;
  try {
    query = parseQuery(at < 0 ? "" : request.url.slice(at + 1));
  } catch {
    throw malformed("The query string could not be decoded.");
  }
  const param = (name: string) => {
    const value = query[name];
    return Array.isArray(value) ? undefined : value;
  };
  if (REQUIRED.some((name) => param(name) === undefined)) {
    throw malformed(
      "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    );
  }
  if (param("X-Amz-Algorithm") !== ALGORITHM) throw malformed(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const credential = param("X-Amz-Credential")!.split("/");
  const [accessKeyId, shortDate, region, service, terminator] = credential;
  if (credential.length !== 5 || !shortDate || !region || service !== "s3" || terminator !== "aws4_request") {
    throw malformed(`Error parsing the X-Amz-Credential parameter: ${param("X-Amz-Credential")}`);
  }
  const rawExpires = param("X-Amz-Expires")!;
  const expires = /^\d+$/.test(rawExpires) ? Number(rawExpires) : Number.NaN;
  if (!(expires >= 1 && expires <= MAX_EXPIRES_SECONDS)) {
    throw malformed(
      `X-Amz-Expires must be a number of seconds from 1 to ${MAX_EXPIRES_SECONDS} (a week), got ${rawExpires}`,
    );
  }
  const longDate = param("X-Amz-Date")!;
  const signedAt = amzDate(longDate);
  if (Number.isNaN(signedAt))
    throw malformed(`X-Amz-Date must be in the ISO8601 Long Format, got ${longDate}`);
  if (!longDate.startsWith(shortDate)) {
    throw malformed(
      `Error parsing the X-Amz-Credential parameter; the date ${shortDate} does not match X-Amz-Date ${longDate}`,
    );
  }
  if (accessKeyId !== options.credentials.accessKeyId) {
    throw new QueryAuthError(
      "InvalidAccessKeyId",
      403,
      "The AWS Access Key Id you provided does not exist in our records.",
      { AWSAccessKeyId: accessKeyId ?? "" },
    );
  }
  const now = (options.now ?? Date.now)();
  const expiresAt = signedAt + expires * 1000;
  if (now > expiresAt) {
    throw new QueryAuthError("AccessDenied", 403, "Request has expired", {
      "X-Amz-Expires": String(expires),
      Expires: isoSeconds(expiresAt),
      ServerTime: isoSeconds(now),
    });
  }
  if (signedAt > now + 15 * 60 * 1000) {
    throw new QueryAuthError("AccessDenied", 403, "Request is not yet valid", {
      "X-Amz-Date": longDate,
      ServerTime: isoSeconds(now),
    });
  }

  const signed = param("X-Amz-SignedHeaders")!.split(";").filter(Boolean);
  const signedSet = new Set(signed);
  const unsigned = Object.keys(request.headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith("x-amz-") && name !== "x-amz-content-sha256" && !signedSet.has(name));
  if (unsigned.length > 0) {
    throw new QueryAuthError(
      "AccessDenied",
      403,
      "There were headers present in the request which were not signed",
      {
        HeadersNotSigned: unsigned.join(", "),
      },
    );
  }

  const headers: Record<string, string> = {};
  for (const name of signed) headers[name] = headerValue(request.headers[name]) ?? "";
  const payloadHash =
    param("X-Amz-Content-Sha256") ??
    (signedSet.has("x-amz-content-sha256") ? headers["x-amz-content-sha256"] : undefined) ??
    "UNSIGNED-PAYLOAD";
  const verifier = new Verifier({
    service: "s3",
    region,
    credentials: options.credentials,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const canonical = verifier.canonicalRequest({ method: request.method, path, query }, headers, payloadHash);
  const scope = `${shortDate}/${region}/s3/aws4_request`;
  const expected = await verifier.sign(await verifier.stringToSign(longDate, scope, canonical), {
    signingDate: new Date(signedAt),
    signingRegion: region,
    signingService: "s3",
  });
  const provided = param("X-Amz-Signature")!;
  const same =
    provided.length === expected.length && timingSafeEqual(Buffer.from(provided), Buffer.from(expected));
  if (!same) {
    throw new QueryAuthError(
      "SignatureDoesNotMatch",
      403,
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      { AWSAccessKeyId: accessKeyId, SignatureProvided: provided, CanonicalRequest: canonical },
    );
  }
}

/** Whether the request authenticates with query parameters (a presigned URL). */
function isPresigned(request: FastifyRequest): boolean {
  const url = request.originalUrl ?? request.url;
  const at = url.indexOf("?");
  return at >= 0 && /(^|&)X-Amz-(Signature|Algorithm|Credential)=/.test(url.slice(at + 1));
}

/**
 * Registers the check on every request that carries query authentication, before any other hook reads the body:
 * a refused PUT's body is drained and dropped, never stored.
 */
export function useQueryAuth(app: FastifyInstance, options: QueryAuthOptions): void {
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    // A preflight carries the URL's query but none of the signed headers: S3 answers it from the CORS rules alone.
    if (request.method === "OPTIONS" || !isPresigned(request)) return;
    try {
      await verifyPresignedRequest(
        { method: request.method, url: request.originalUrl ?? request.url, headers: request.headers },
        options,
      );
    } catch (error) {
      if (!(error instanceof QueryAuthError)) throw error;
      // Read and drop what the client is still sending, so it gets the answer rather than a reset connection.
      request.raw.resume();
      return reply
        .header("content-type", "application/xml")
        .status(error.statusCode)
        .send(request.method === "HEAD" ? undefined : error.toXml());
    }
  });
}
