import { createHash } from "node:crypto";
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import {
  type Chunk,
  type ChunkEnvelope,
  type ChunkPointer,
  ChunkSchema,
  type KeyedChunk,
  keyedChunk,
} from "@sluice/contract";
import { isPlainChunk } from "./chunk-shape.ts";
import { ConsumerError } from "./errors.ts";
import { utf8Text } from "./utf8-text.ts";

export interface FetchChunkOptions {
  /** A pointer whose length is over this fails with CHUNK_TOO_LARGE before anything is fetched. */
  maxChunkBytes: number;
  /** Aborts the GetObject and the body read (a stale token, a stop that ran out of time). */
  signal?: AbortSignal;
  /** Runs the GetObject (and the body read) with the consumer's retry of transient errors. */
  call?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** "Chunk 3 (rows 1502 to 2001, s3://bucket/key bytes 100-199)": how a chunk is named in failure messages. */
export function describePointer(pointer: ChunkPointer): string {
  const end = pointer.offset + pointer.length - 1;
  return `Chunk ${pointer.index} (rows ${pointer.firstRow} to ${pointer.lastRow}, s3://${pointer.bucket}/${pointer.key} bytes ${pointer.offset}-${end})`;
}

function mismatch(pointer: ChunkPointer, detail: string): ConsumerError {
  return new ConsumerError(
    "CHUNK_CHECKSUM_MISMATCH",
    `${describePointer(pointer)} is not the chunk the message points to: ${detail}`,
  );
}

function invalid(pointer: ChunkPointer, detail: string): ConsumerError {
  return new ConsumerError("CHUNK_INVALID", `${describePointer(pointer)} ${detail}`);
}

/** Frees the connection behind a body that will not be read (Node Readable, web ReadableStream). */
function discard(body: unknown, reason?: unknown): void {
  const b = body as { destroy?: (error?: unknown) => void; cancel?: (reason?: unknown) => Promise<void> };
  if (b === null || typeof b !== "object") return;
  if (typeof b.destroy === "function") b.destroy(reason instanceof Error ? reason : undefined);
  else if (typeof b.cancel === "function") b.cancel(reason).catch(() => {});
}

function isInvalidRange(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  return (
    e !== null && typeof e === "object" && (e.name === "InvalidRange" || e.$metadata?.httpStatusCode === 416)
  );
}

/**
 * Reads a GetObject body into one Buffer of exactly `expected` bytes. More bytes than that stop the read at once
 * (the stream is destroyed): nothing beyond `expected` is ever held. Fewer is a mismatch too.
 */
async function readExactly(
  body: unknown,
  expected: number,
  pointer: ChunkPointer,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  if (body === null || body === undefined) throw new Error("GetObject returned no Body");
  if (typeof body === "string" || body instanceof Uint8Array) {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    if (bytes.byteLength !== expected) {
      throw mismatch(pointer, `${bytes.byteLength} bytes were read, the pointer says ${expected}`);
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function") {
    throw new TypeError("GetObject's Body is not a readable stream");
  }
  const onAbort = () => discard(body, signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const buffer = Buffer.allocUnsafe(expected);
    let received = 0;
    // Leaving the loop early (the throw below) calls the iterator's return(), which destroys the stream.
    for await (const part of body as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
      if (received + bytes.byteLength > expected) {
        throw mismatch(pointer, `more than the pointer's ${expected} bytes were returned`);
      }
      buffer.set(bytes, received);
      received += bytes.byteLength;
    }
    if (received !== expected) {
      throw mismatch(pointer, `${received} bytes were read, the pointer says ${expected}`);
    }
    return buffer;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** GetObject with `Range: bytes=offset-(offset+length-1)`, the body read into one Buffer of exactly `length` bytes. */
export async function readChunkBytes(
  s3: S3Client,
  pointer: ChunkPointer,
  signal?: AbortSignal,
): Promise<Buffer> {
  const end = pointer.offset + pointer.length - 1;
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(
      new GetObjectCommand({
        Bucket: pointer.bucket,
        Key: pointer.key,
        Range: `bytes=${pointer.offset}-${end}`,
      }),
      signal ? { abortSignal: signal } : {},
    );
  } catch (error) {
    // The object ends before the range starts: it is not the object the pointer was made from.
    if (isInvalidRange(error)) throw mismatch(pointer, "the object ends before the pointer's byte range");
    throw error;
  }
  const body = out.Body;
  if (typeof out.ContentLength === "number" && out.ContentLength !== pointer.length) {
    discard(body);
    throw mismatch(
      pointer,
      `GetObject returned ${out.ContentLength} bytes, the pointer says ${pointer.length}`,
    );
  }
  if (
    typeof out.ContentRange === "string" &&
    !out.ContentRange.startsWith(`bytes ${pointer.offset}-${end}/`)
  ) {
    discard(body);
    throw mismatch(pointer, `GetObject returned the range "${out.ContentRange}"`);
  }
  return readExactly(body, pointer.length, pointer, signal);
}

/**
 * Fetches the chunk a message points to and proves it is that chunk: exactly `length` bytes, their base64 SHA-256
 * equal to the pointer's, JSON that ChunkSchema accepts, and the same upload, index, chunk id, row range and row
 * count as the pointer. Returns it with its rows keyed by column name (the contract's `keyedChunk`: `rows` as
 * `{ row, data, warnings? }`, `columns` as on the wire), as a handler gets it. Throws ConsumerError
 * (retryable: false) CHUNK_TOO_LARGE, CHUNK_CHECKSUM_MISMATCH or CHUNK_INVALID when the chunk is wrong for good;
 * any other error (S3 refused or failed, after `call`'s retries) means the chunk could not be read now.
 */
export async function fetchChunk(
  s3: S3Client,
  envelope: Pick<ChunkEnvelope, "uploadId" | "chunk">,
  options: FetchChunkOptions,
): Promise<KeyedChunk> {
  const pointer = envelope.chunk;
  if (pointer.length > options.maxChunkBytes) {
    throw new ConsumerError(
      "CHUNK_TOO_LARGE",
      `${describePointer(pointer)} is ${pointer.length} bytes, more than maxChunkBytes (${options.maxChunkBytes})`,
    );
  }
  const read = () => readChunkBytes(s3, pointer, options.signal);
  const bytes = await (options.call ? options.call(read) : read());
  const digest = createHash("sha256").update(bytes).digest("base64");
  if (digest !== pointer.sha256) {
    throw mismatch(pointer, `the SHA-256 of its bytes is ${digest}, the pointer says ${pointer.sha256}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8Text(bytes));
  } catch (error) {
    throw invalid(pointer, `is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The fast check accepts only what ChunkSchema accepts unchanged; anything else is ChunkSchema's to judge.
  let chunk: Chunk;
  if (isPlainChunk(json)) chunk = json;
  else {
    const parsed = ChunkSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 20)
        .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
        .join("; ");
      throw invalid(pointer, `is not a sluice Chunk: ${issues}`);
    }
    chunk = parsed.data;
  }
  const differences: string[] = [];
  if (chunk.uploadId !== envelope.uploadId) {
    differences.push(
      `uploadId ${JSON.stringify(chunk.uploadId)}, the message's is ${JSON.stringify(envelope.uploadId)}`,
    );
  }
  for (const field of ["index", "chunkId", "firstRow", "lastRow"] as const) {
    if (chunk[field] !== pointer[field]) {
      differences.push(
        `${field} ${JSON.stringify(chunk[field])}, the pointer's is ${JSON.stringify(pointer[field])}`,
      );
    }
  }
  if (chunk.rows.length !== pointer.rows) {
    differences.push(`${chunk.rows.length} rows, the pointer says ${pointer.rows}`);
  }
  if (differences.length > 0) {
    throw invalid(pointer, `is not the chunk the message names: ${differences.join("; ")}`);
  }
  // The wire's compact rows ([row, ...values]) keyed by column name, each row's warnings beside it.
  return keyedChunk(chunk);
}
