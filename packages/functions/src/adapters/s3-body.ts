import { Readable } from "node:stream";

/**
 * A GetObject body as a Node stream. In Lambda it already is one (an IncomingMessage with the SDK's stream
 * mixin); other runtimes and emulators may hand back a web stream or a Blob-like with transformToByteArray.
 */
export function bodyToReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  if (body instanceof Uint8Array) return Readable.from([Buffer.from(body)], { objectMode: false });
  if (body && typeof (body as ReadableStream).getReader === "function") {
    return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  }
  const withBytes = body as { transformToByteArray?: () => Promise<Uint8Array> } | undefined;
  if (withBytes && typeof withBytes.transformToByteArray === "function") {
    const bytes = withBytes.transformToByteArray.bind(withBytes);
    return Readable.from(
      (async function* () {
        yield Buffer.from(await bytes());
      })(),
      { objectMode: false },
    );
  }
  throw new TypeError("GetObject returned no readable body");
}

/** Reads a whole (small) body into memory. */
export async function bodyToBuffer(body: unknown): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of bodyToReadable(body)) parts.push(Buffer.isBuffer(part) ? part : Buffer.from(part));
  return Buffer.concat(parts);
}
