import { Readable } from "node:stream";
import { type ByteSource, bufferSource } from "../src/byte-source.ts";

/**
 * A source over `bytes` whose streams hand out `size`-byte pieces: every cut a reader can meet (a stored zip
 * entry reaches the xlsx scanner cut there too).
 */
export function piecewiseSource(bytes: Buffer, size: number, name = "pieces"): ByteSource {
  return {
    ...bufferSource(bytes, name),
    stream(start = 0, end = bytes.length) {
      const pieces: Buffer[] = [];
      for (let i = start; i < end; i += size) pieces.push(bytes.subarray(i, Math.min(end, i + size)));
      return Readable.from(pieces);
    },
  };
}
