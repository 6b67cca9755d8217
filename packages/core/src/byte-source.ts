import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";

/**
 * Random access to the uploaded bytes. xlsx reading needs it (the zip's central directory is at the end, and
 * the shared-strings part must be read before the sheet whatever the entry order); csv only streams.
 * Adapters: a local file here, ranged GETs on S3 in the Lambda handlers.
 */
export interface ByteSource {
  /** A name for messages and the manifest (file name or object key). */
  readonly name: string;
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer only at the end of the source). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Streams bytes [start, end) in order. */
  stream(start?: number, end?: number): Readable;
  close(): Promise<void>;
}

/** A ByteSource over a local file. */
export async function openFileSource(path: string, name = path): Promise<ByteSource> {
  const handle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    name,
    size,
    async read(offset, length) {
      const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === buffer.length ? buffer : buffer.subarray(0, filled);
    },
    stream(start = 0, end = size) {
      if (end <= start) return Readable.from([]);
      // Its own descriptor: destroying a stream (a reader stopping early) must not close the shared handle.
      return createReadStream(path, { start, end: end - 1, highWaterMark: 256 * 1024 });
    },
    async close() {
      await handle.close();
    },
  };
}

/** A ByteSource over bytes already in memory (tests, small payloads). */
export function bufferSource(bytes: Buffer, name = "buffer"): ByteSource {
  return {
    name,
    size: bytes.length,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
    stream(start = 0, end = bytes.length) {
      const slice = bytes.subarray(start, end);
      const pieces: Buffer[] = [];
      for (let i = 0; i < slice.length; i += 64 * 1024) pieces.push(slice.subarray(i, i + 64 * 1024));
      return Readable.from(pieces);
    },
    async close() {},
  };
}
