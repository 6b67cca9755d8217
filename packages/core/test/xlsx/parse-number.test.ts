import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseNumber } from "../../src/xlsx/sheet-scanner.ts";

/** `<v>` numbers parsed in place must be exactly what Number(text) gives, to the last bit. */
describe("parseNumber", () => {
  const parse = (text: string) => parseNumber(Buffer.from(text, "latin1"), 0, text.length);

  it("equals Number(text) for decimals of up to 20 digits and up to 22 fraction digits", () => {
    const digits = (max: number) =>
      fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: max });
    fc.assert(
      fc.property(fc.boolean(), digits(20), fc.option(digits(22)), (negative, whole, fraction) => {
        const text = `${negative ? "-" : ""}${whole}${fraction === null ? "" : `.${fraction}`}`;
        expect(Object.is(parse(text), Number(text))).toBe(true);
      }),
      { seed: 7, numRuns: 20_000 },
    );
  });

  it("reads date-time serials of 16 and 17 digits in place and exactly", () => {
    for (const text of [
      "45071.13552083333",
      "44986.8384375",
      "9007199254740991",
      "9007199254740993",
      "0.1",
      "-0",
    ]) {
      expect(Object.is(parse(text), Number(text)), text).toBe(true);
    }
  });

  it("keeps text that is not a number, and reads an empty value as none", () => {
    expect(parse("abc")).toBe("abc");
    expect(parse(" 5 ")).toBe(5);
    expect(parse("")).toBe(null);
  });
});
