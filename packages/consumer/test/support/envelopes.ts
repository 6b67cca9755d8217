import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { GetObjectCommandInput, GetObjectCommandOutput } from "@aws-sdk/client-s3";
import {
  type Chunk,
  type ChunkEnvelope,
  type ChunkPointer,
  CONTRACT_VERSION,
  chunkIdFor,
} from "@sluice/contract";

/** The bucket the local tests put chunk objects in. */
export const TEST_BUCKET = "sluice-test";

/** processed/<uploadId>/chunks.jsonl, as the converter writes it. */
export function chunksKey(uploadId: string): string {
  return `processed/${uploadId}/chunks.jsonl`;
}

/**
 * A valid chunk as the converter writes it, columns `sku` and `qty`, with `rows` rows (row numbers from
 * 2 + index × rows): row i is `[firstRow + i, "A-<index>-<i>", i]`.
 */
export function makeChunk(index: number, options: { uploadId?: string; rows?: number } = {}): Chunk {
  const uploadId = options.uploadId ?? "upload-1";
  const count = options.rows ?? 3;
  const firstRow = 2 + index * count;
  return {
    v: CONTRACT_VERSION,
    uploadId,
    index,
    chunkId: chunkIdFor(uploadId, index),
    firstRow,
    lastRow: firstRow + count - 1,
    columns: ["sku", "qty"],
    rows: Array.from({ length: count }, (_, i): Chunk["rows"][number] => [
      firstRow + i,
      `A-${index}-${i}`,
      i,
    ]),
  };
}

/** One chunks.jsonl object and, for each of its chunks, the pointer and the message that names it. */
export interface ChunkObject {
  uploadId: string;
  bucket: string;
  key: string;
  /** The object's bytes: one JSON line per chunk, each ending with "\n". */
  body: Buffer;
  chunks: Chunk[];
  pointers: ChunkPointer[];
  /** The messages, in chunk order; the task token of chunk i is `token-<uploadId>-<i>`. */
  envelopes: ChunkEnvelope[];
}

/** Writes `chunks` (of one upload) as JSON lines and makes the pointers the Map would hand out for them. */
export function chunkObjectOf(
  chunks: Chunk[],
  options: { bucket?: string; key?: string; totalChunks?: number } = {},
): ChunkObject {
  const uploadId = chunks[0]?.uploadId ?? "upload-1";
  const bucket = options.bucket ?? TEST_BUCKET;
  const key = options.key ?? chunksKey(uploadId);
  const lines: Buffer[] = [];
  const pointers: ChunkPointer[] = [];
  let offset = 0;
  for (const chunk of chunks) {
    const line = Buffer.from(JSON.stringify(chunk), "utf8");
    pointers.push({
      index: chunk.index,
      chunkId: chunk.chunkId,
      firstRow: chunk.firstRow,
      lastRow: chunk.lastRow,
      rows: chunk.rows.length,
      bucket,
      key,
      offset,
      length: line.length,
      sha256: createHash("sha256").update(line).digest("base64"),
    });
    lines.push(line, Buffer.from("\n"));
    offset += line.length + 1;
  }
  const totalChunks = options.totalChunks ?? 100;
  const totalRows = (chunks[0]?.rows.length ?? 0) * totalChunks;
  const envelopes = pointers.map(
    (pointer): ChunkEnvelope => ({
      v: CONTRACT_VERSION,
      kind: "chunk",
      taskToken: `token-${uploadId}-${pointer.index}`,
      uploadId,
      source: { bucket: "uploads", key: `${uploadId}/orders.xlsx` },
      totals: { totalRows, totalChunks },
      chunk: pointer,
    }),
  );
  return { uploadId, bucket, key, body: Buffer.concat(lines), chunks, pointers, envelopes };
}

/** `count` chunks of `rows` rows from index `first`, in one object. */
export function makeChunkObject(
  uploadId: string,
  options: { count?: number; first?: number; rows?: number; bucket?: string; key?: string } = {},
): ChunkObject {
  const { count = 1, first = 0, rows = 3 } = options;
  const chunks = Array.from({ length: count }, (_, i) => makeChunk(first + i, { uploadId, rows }));
  return chunkObjectOf(chunks, options);
}

/** The message of the chunk with `index` in `object`. */
export function envelopeOf(object: ChunkObject, index: number): ChunkEnvelope {
  const envelope = object.envelopes.find((e) => e.chunk.index === index);
  if (!envelope) throw new Error(`no chunk ${index} in ${object.key}`);
  return envelope;
}

/** A GetObject body as the SDK gives it in Node: a stream, here in parts of at most `partBytes`. */
export function bodyOf(bytes: Buffer, partBytes = 16): GetObjectCommandOutput["Body"] {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += partBytes) parts.push(bytes.subarray(at, at + partBytes));
  return Readable.from(parts) as unknown as GetObjectCommandOutput["Body"];
}

/**
 * Serves GetObject from in-memory objects (keyed "bucket/key") like S3 does: a `Range: bytes=a-b` header returns
 * those bytes (cut at the object's end) as a stream, a range starting past the end fails with InvalidRange (416),
 * a missing key with NoSuchKey.
 */
export function serveObjects(objects: Map<string, Buffer>) {
  return (input: GetObjectCommandInput): GetObjectCommandOutput => {
    const body = objects.get(`${input.Bucket}/${input.Key}`);
    if (!body) {
      throw Object.assign(new Error("The specified key does not exist."), {
        name: "NoSuchKey",
        $metadata: { httpStatusCode: 404 },
      });
    }
    const match = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? "");
    if (!match) return { $metadata: {}, Body: bodyOf(body), ContentLength: body.length };
    const start = Number(match[1]);
    const end = Math.min(Number(match[2]), body.length - 1);
    if (start >= body.length) {
      throw Object.assign(new Error("The requested range is not satisfiable"), {
        name: "InvalidRange",
        $metadata: { httpStatusCode: 416 },
      });
    }
    const slice = body.subarray(start, end + 1);
    return {
      $metadata: {},
      Body: bodyOf(slice),
      ContentLength: slice.length,
      ContentRange: `bytes ${start}-${end}/${body.length}`,
    };
  };
}
