import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8Text } from "../src/utf8-text.ts";

/** The consumer's decoding of a chunk's bytes must be Node's own, byte for byte, whatever the bytes. */
describe("utf8Text", () => {
  it("equals toString('utf8') for any text, BOMs, surrogate pairs and every script included", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), fc.string()),
        fc.boolean(),
        (text, bom) => {
          const bytes = Buffer.from(`${bom ? "\uFEFF" : ""}${text}`, "utf8");
          expect(utf8Text(bytes)).toBe(bytes.toString("utf8"));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("equals toString('utf8') for bytes that are not valid UTF-8 (replacement characters as Node makes them)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(utf8Text(bytes)).toBe(bytes.toString("utf8"));
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes a real chunk line: Korean text, ASCII keys", () => {
    const line = Buffer.from(
      '{"columns":["고객명","memo"],"rows":[[2,"김민준","배송 전 연락 부탁드립니다 🚚"]]}',
    );
    expect(JSON.parse(utf8Text(line))).toEqual(JSON.parse(line.toString("utf8")));
    expect(utf8Text(Buffer.alloc(0))).toBe("");
  });
});
